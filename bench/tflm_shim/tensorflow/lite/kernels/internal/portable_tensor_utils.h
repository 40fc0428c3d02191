// microaot bench shim (not TFLM): the declaration TFLM's int4 kernel paths reference; never called.
#ifndef MICROAOT_BENCH_SHIM_PORTABLE_TENSOR_UTILS_H_
#define MICROAOT_BENCH_SHIM_PORTABLE_TENSOR_UTILS_H_
#include <cstdint>
namespace tflite {
namespace tensor_utils {
inline void UnpackDenseInt4IntoInt8(const int8_t *, int, int8_t *) {}
}  // namespace tensor_utils
}  // namespace tflite
#endif
