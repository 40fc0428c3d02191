// microaot bench shim (not TFLM): the types and helpers TFLM's reference integer kernels
// (tensorflow/lite/kernels/internal/reference/integer_ops/{conv,depthwise_conv,fully_connected}.h)
// need, written for this bench so those unmodified headers compile for the Cortex-M4 without the rest
// of TFLM. Semantics follow TFLM's (classic double rounding: SaturatingRoundingDoublingHighMul then
// RoundingDivideByPOT; RuntimeShape with inline dims; Offset by multiply-add); debug checks are off.
#ifndef MICROAOT_BENCH_SHIM_COMMON_H_
#define MICROAOT_BENCH_SHIM_COMMON_H_
#include <algorithm>
#include <cstdint>

#define TFLITE_DCHECK(x) ((void)0)
#define TFLITE_DCHECK_EQ(a, b) ((void)0)
#define TFLITE_DCHECK_NE(a, b) ((void)0)
#define TFLITE_DCHECK_LE(a, b) ((void)0)
#define TFLITE_DCHECK_GE(a, b) ((void)0)
#define TFLITE_DCHECK_LT(a, b) ((void)0)

namespace tflite {

class RuntimeShape {
 public:
  static constexpr int kMaxSmallSize = 6;
  RuntimeShape(int count, const int32_t *dims) : size_(count) {
    for (int i = 0; i < count && i < kMaxSmallSize; ++i) dims_[i] = dims[i];
  }
  int32_t DimensionsCount() const { return size_; }
  int32_t Dims(int i) const { return DimsData()[i]; }
  const int32_t *DimsData() const { return size_ > kMaxSmallSize ? dims_pointer_ : dims_; }
  int FlatSize() const {
    int n = 1;
    for (int i = 0; i < size_; ++i) n *= Dims(i);
    return n;
  }

 private:
  int32_t size_;
  union {
    int32_t dims_[kMaxSmallSize];
    int32_t *dims_pointer_;
  };
};

struct PaddingValues {
  int16_t width, height, width_offset, height_offset;
};

struct ConvParams {
  PaddingValues padding_values;
  int16_t stride_width, stride_height, dilation_width_factor, dilation_height_factor;
  int32_t input_offset, weights_offset, output_offset, output_multiplier;
  int output_shift;
  int32_t quantized_activation_min, quantized_activation_max;
  float float_activation_min, float_activation_max;
};

struct DepthwiseParams {
  PaddingValues padding_values;
  int16_t stride_width, stride_height, dilation_width_factor, dilation_height_factor, depth_multiplier;
  int32_t input_offset, weights_offset, output_offset, output_multiplier;
  int output_shift;
  int32_t quantized_activation_min, quantized_activation_max;
  float float_activation_min, float_activation_max;
};

struct FullyConnectedParams {
  int32_t input_offset, weights_offset, output_offset, output_multiplier;
  int output_shift;
  int32_t quantized_activation_min, quantized_activation_max;
  float float_activation_min, float_activation_max;
};

inline int Offset(const RuntimeShape &shape, int i0, int i1, int i2, int i3) {
  const int32_t *d = shape.DimsData();
  return ((i0 * d[1] + i1) * d[2] + i2) * d[3] + i3;
}

inline int MatchingDim(const RuntimeShape &a, int ia, const RuntimeShape &, int) { return a.Dims(ia); }

inline int FlatSizeSkipDim(const RuntimeShape &shape, int skip) {
  int n = 1;
  for (int i = 0; i < shape.DimensionsCount(); ++i) n *= (i == skip) ? 1 : shape.Dims(i);
  return n;
}

inline float ActivationFunctionWithMinMax(float x, float lo, float hi) { return std::min(std::max(x, lo), hi); }

inline int32_t SaturatingRoundingDoublingHighMul(int32_t a, int32_t b) {
  const bool overflow = a == b && a == INT32_MIN;
  const int64_t ab = (int64_t)a * (int64_t)b;
  const int32_t nudge = ab >= 0 ? (1 << 30) : (1 - (1 << 30));
  const int32_t hi = (int32_t)((ab + nudge) / ((int64_t)1 << 31));
  return overflow ? INT32_MAX : hi;
}

inline int32_t RoundingDivideByPOT(int32_t x, int exponent) {
  const int32_t mask = (int32_t)((1ll << exponent) - 1);
  const int32_t remainder = x & mask;
  const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
  return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

inline int32_t MultiplyByQuantizedMultiplier(int32_t x, int32_t m, int shift) {
  const int left = shift > 0 ? shift : 0;
  const int right = shift > 0 ? 0 : -shift;
  return RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(x * (1 << left), m), right);
}

inline int32_t MultiplyByQuantizedMultiplier(int64_t x, int32_t m, int shift) {  // 16-bit paths, unused
  const int64_t r = (x * (int64_t)m) >> (31 - shift);
  return (int32_t)r;
}

}  // namespace tflite
#endif
