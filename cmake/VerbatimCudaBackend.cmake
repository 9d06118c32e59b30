# The CUDA backend's tests and its end-to-end benchmark, which need the whole engine (verbatim_core): included by the
# top-level CMakeLists.txt after cmake/VerbatimCuda.cmake, in the full build only.
#   test_cuda_backend   tests/cuda/ops_test.cpp (every op vs its CPU reference), sample_test.cpp (sampling on the GPU
#                       vs the engine's sampler), backend_test.cpp (forward vs the CPU backend, row invariance, graphs
#                       on == off). Each test skips loudly without a GPU.
#   bench_decode_cuda   batch-1 greedy decode tokens/s of a model vs the device's copy bandwidth bound.
#   bench_decode_trace_cuda  the kernels of decode steps as they run in the graph (CUPTI), summed per kernel.
if(VERBATIM_BUILD_TESTS)
  file(GLOB VERBATIM_CUDA_BACKEND_TESTS CONFIGURE_DEPENDS ${VERBATIM_ROOT}/tests/cuda/*_test.cpp)
  add_executable(test_cuda_backend ${VERBATIM_CUDA_BACKEND_TESTS} ${VERBATIM_ROOT}/tests/unit/forward_tiny_model.cpp
                                   ${VERBATIM_ROOT}/tests/support/test_support.cpp)
  target_include_directories(test_cuda_backend PRIVATE ${VERBATIM_ROOT}/tests)
  target_link_libraries(test_cuda_backend PRIVATE verbatim_core verbatim_cuda GTest::gtest GTest::gtest_main)
  gtest_discover_tests(test_cuda_backend DISCOVERY_TIMEOUT 60 PROPERTIES LABELS cuda)
endif()

add_executable(bench_decode_cuda ${VERBATIM_ROOT}/bench/bench_decode_cuda.cpp)
target_link_libraries(bench_decode_cuda PRIVATE verbatim_core verbatim_cuda)

# Where a decode step's time goes inside the real graph (CUPTI kernel activity), where the toolkit has CUPTI.
if(TARGET CUDA::cupti)
  add_executable(bench_decode_trace_cuda ${VERBATIM_ROOT}/bench/bench_decode_trace_cuda.cpp)
  target_link_libraries(bench_decode_trace_cuda PRIVATE verbatim_core verbatim_cuda CUDA::cupti)
endif()
