/* microaot runtime: CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection, no xorout).
 * Check value: crc16("123456789") == 0x29B1. Bitwise (no table) to keep flash small. */
#include "microaot/framing.h"

uint16_t uaot_crc16(uint16_t crc, const uint8_t *data, size_t len)
{
    size_t i;
    if (data == NULL) {
        return crc;
    }
    for (i = 0u; i < len; ++i) {
        int bit;
        crc = (uint16_t)(crc ^ (uint16_t)((uint16_t)data[i] << 8));
        for (bit = 0; bit < 8; ++bit) {
            if ((crc & 0x8000u) != 0u) {
                crc = (uint16_t)((uint16_t)(crc << 1) ^ 0x1021u);
            } else {
                crc = (uint16_t)(crc << 1);
            }
        }
    }
    return crc;
}
