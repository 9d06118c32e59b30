// Device-side test data for the CUDA GEMM's start-up autotune, its tests and its benchmark: deterministic
// pseudo-random bf16 matrices (a pure function of seed, row and column: the same bits on any GPU and any launch
// shape) and a bitwise comparison of rows.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace verbatim::cuda {

enum class FillPattern : uint8_t {
  Uniform,     // U(-1, 1)
  Positive,    // magnitudes in [0.25, 1.5) times 2^-e, e in {0, 1, 2, 3}; all positive
  HalfSigned,  // like Positive, negated in the second half of each row (columns >= cols / 2)
};
// Dot products of a HalfSigned row with Positive rows cancel to a small result after partial sums of about k/2:
// any change in the order of the k-reduction moves the fp32 result by far more than one bf16 ulp, so a bitwise
// comparison of bf16 outputs reveals it (a Uniform pair would hide most such changes in the bf16 rounding).

// p: rows x cols bf16 values at row stride ld (elements).
void fill_bf16(void* p, int64_t rows, int64_t cols, int64_t ld, uint64_t seed, FillPattern pattern,
               cudaStream_t stream);

// count 16-bit words all set to `value` (a poison pattern: 0xFFFF is a NaN in bf16, and a NaN pair in fp32).
void fill_u16(void* p, size_t count, uint16_t value, cudaStream_t stream);

// *d_count += the number of 16-bit words that differ between a and b over `rows` rows of `row_words` words
// (strides lda, ldb in 16-bit words). d_count is device memory; the caller zeroes it and reads it back.
void count_diff_u16(const void* a, int64_t lda, const void* b, int64_t ldb, int64_t rows, int64_t row_words,
                    unsigned long long* d_count, cudaStream_t stream);

}  // namespace verbatim::cuda
