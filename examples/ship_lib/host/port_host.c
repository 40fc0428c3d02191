/* Host port of the example: output through the POSIX write(2) system call (no stdio). */
#include <string.h>
#include <unistd.h>

void app_print(const char *s);

void app_print(const char *s)
{
    size_t len = strlen(s);
    while (len > 0u) {
        ssize_t n = write(1, s, len);
        if (n <= 0) {
            return;
        }
        s += n;
        len -= (size_t)n;
    }
}
