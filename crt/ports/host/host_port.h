/* microaot host board port: what host_port.c shares with main_rpc.c. */
#ifndef MICROAOT_HOST_PORT_H
#define MICROAOT_HOST_PORT_H

#include <stdint.h>

#ifndef UAOT_HOST_STACK_SIZE
#define UAOT_HOST_STACK_SIZE (256u * 1024u)
#endif

/* the RPC server thread's stack (painted for the high-water mark) */
extern uint8_t uaot_host_stack[UAOT_HOST_STACK_SIZE];
/* first byte above the server thread's own frames; NULL until the thread starts */
extern uint8_t *uaot_host_stack_top;

#endif
