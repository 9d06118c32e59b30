# The CUDA part of the build: the verbatim_cuda library, its GoogleTest binary test_cuda and the benchmark
# bench_gemm_cuda. Included at file scope (enable_language must not run inside a function) by the top-level
# CMakeLists.txt when VERBATIM_HAVE_CUDA, and by tests/cuda/standalone/CMakeLists.txt, the CUDA-only project for GPU
# machines that lack the CPU build's -dev packages.
#
# Expects: VERBATIM_ROOT (the source root) and VERBATIM_CUDA_CORE (the target verbatim_cuda links: verbatim_core in
# the full build, a minimal util library in the standalone one).

# Hopper only, and its arch-specific target (wgmma, setmaxnreg): exactly -gencode=arch=compute_90a,code=sm_90a.
# ("90a" alone would also embed compute_90a PTX, which no other GPU can run anyway.)
if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES OR CMAKE_CUDA_ARCHITECTURES STREQUAL "")
  set(CMAKE_CUDA_ARCHITECTURES 90a-real)
endif()
enable_language(CUDA)
find_package(CUDAToolkit REQUIRED)

# C++20 as for the C++ code. CMake 3.25 does not know nvcc's flag for it (CUDA falls back to CXX_STANDARD and then
# fails at generation): tell it.
if(NOT CMAKE_CUDA20_STANDARD_COMPILE_OPTION)
  set(CMAKE_CUDA20_STANDARD_COMPILE_OPTION "-std=c++20")
  set(CMAKE_CUDA20_EXTENSION_COMPILE_OPTION "-std=c++20")
endif()
set(CMAKE_CUDA_STANDARD 20)
set(CMAKE_CUDA_STANDARD_REQUIRED ON)
set(CMAKE_CUDA_EXTENSIONS OFF)

# The same floating-point rules as the C++ code: no reassociation, no contraction into FMAs (device code writes an FMA
# as __fmaf_rn when it wants one).
set(VERBATIM_CUDA_OPTIONS
  "$<$<COMPILE_LANGUAGE:CUDA>:--fmad=false;-Xcompiler=-Wall,-Wextra,-fno-fast-math,-ffp-contract=off>")

file(GLOB VERBATIM_CUDA_SOURCES CONFIGURE_DEPENDS
  ${VERBATIM_ROOT}/src/kernels/cuda/*.cu ${VERBATIM_ROOT}/src/backend/cuda/*.cu ${VERBATIM_ROOT}/src/backend/cuda/*.cpp)
add_library(verbatim_cuda STATIC ${VERBATIM_CUDA_SOURCES})
target_include_directories(verbatim_cuda PUBLIC ${VERBATIM_ROOT}/src)
target_compile_options(verbatim_cuda PRIVATE ${VERBATIM_CUDA_OPTIONS})
target_compile_definitions(verbatim_cuda PUBLIC VERBATIM_HAVE_CUDA=1)
target_link_libraries(verbatim_cuda PUBLIC ${VERBATIM_CUDA_CORE} CUDA::cudart CUDA::cublasLt)

# Benchmark: invariant GEMM vs cuBLASLt's default heuristic (needs no Google Benchmark: it prints one table).
add_executable(bench_gemm_cuda ${VERBATIM_ROOT}/bench/bench_gemm_cuda.cu)
target_compile_options(bench_gemm_cuda PRIVATE ${VERBATIM_CUDA_OPTIONS})
target_link_libraries(bench_gemm_cuda PRIVATE verbatim_cuda)
# No device linking is needed (no separable compilation): link with the C++ driver, which takes verbatim_core's
# host flags (-fopenmp) as they are.
set_target_properties(bench_gemm_cuda PROPERTIES LINKER_LANGUAGE CXX)

# Benchmark: the small-M GEMM kernel against the invariant cuBLASLt table and the copy rate.
add_executable(bench_gemm_small_m_cuda ${VERBATIM_ROOT}/bench/bench_gemm_small_m_cuda.cu)
target_compile_options(bench_gemm_small_m_cuda PRIVATE ${VERBATIM_CUDA_OPTIONS})
target_link_libraries(bench_gemm_small_m_cuda PRIVATE verbatim_cuda)
set_target_properties(bench_gemm_small_m_cuda PROPERTIES LINKER_LANGUAGE CXX)

# Benchmark: a prototype of a persistent batch-1 decode kernel (bench/persistent_proto.cuh) against the same work as
# separate launches and against the copy rate.
add_executable(bench_persistent_cuda ${VERBATIM_ROOT}/bench/bench_persistent_cuda.cu)
target_compile_options(bench_persistent_cuda PRIVATE ${VERBATIM_CUDA_OPTIONS})
target_link_libraries(bench_persistent_cuda PRIVATE verbatim_cuda)
set_target_properties(bench_persistent_cuda PROPERTIES LINKER_LANGUAGE CXX)

# Benchmark: paged attention, decode (invariant vs fast split) and prefill, against the device-to-device copy rate.
add_executable(bench_attention_cuda ${VERBATIM_ROOT}/bench/bench_attention_cuda.cu)
target_compile_options(bench_attention_cuda PRIVATE ${VERBATIM_CUDA_OPTIONS})
target_link_libraries(bench_attention_cuda PRIVATE verbatim_cuda)
set_target_properties(bench_attention_cuda PROPERTIES LINKER_LANGUAGE CXX)

if(VERBATIM_BUILD_TESTS)
  if(NOT TARGET GTest::gtest)
    find_package(GTest REQUIRED)
  endif()
  include(GoogleTest)
  add_executable(test_cuda ${VERBATIM_ROOT}/tests/cuda/gemm_test.cu ${VERBATIM_ROOT}/tests/cuda/gemm_small_m_test.cu
                         ${VERBATIM_ROOT}/tests/cuda/gemm_fused_test.cu ${VERBATIM_ROOT}/tests/cuda/norm_prep_test.cu
                         ${VERBATIM_ROOT}/tests/cuda/paged_attention_test.cu)
  target_compile_options(test_cuda PRIVATE ${VERBATIM_CUDA_OPTIONS})
  target_link_libraries(test_cuda PRIVATE verbatim_cuda GTest::gtest GTest::gtest_main)
  # The CPU oracles the CUDA tests compare against: in verbatim_core in the full build; the standalone project
  # builds them into verbatim_cpu_oracle.
  if(TARGET verbatim_cpu_oracle)
    target_link_libraries(test_cuda PRIVATE verbatim_cpu_oracle)
  endif()
  set_target_properties(test_cuda PROPERTIES LINKER_LANGUAGE CXX)
  # Listing the tests touches no GPU; each test skips loudly where no GPU exists.
  gtest_discover_tests(test_cuda DISCOVERY_TIMEOUT 60 PROPERTIES LABELS cuda)
endif()
