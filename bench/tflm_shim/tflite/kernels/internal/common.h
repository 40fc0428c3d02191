// microaot bench shim (not TFLM): newer TFLM sources include "tflite/..." where older ones include
// "tensorflow/lite/..."; both resolve to the one shim.
#include "tensorflow/lite/kernels/internal/common.h"
