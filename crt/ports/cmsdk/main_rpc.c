/* microaot port for ARM CMSDK / MPS2: the firmware's main() in RPC mode (the build adds this file
 * only when custom_microaot_mode = rpc; in standalone mode the application brings its own main). */
#include "microaot/platform.h"
#include "microaot/rpc.h"

int main(void)
{
    uaot_platform_init();
    return uaot_rpc_main();
}
