// Portability macros: one source for host (C++) and device (CUDA) code.
#pragma once

#if defined(__CUDACC__)
#define HOST_DEVICE __host__ __device__
#define FORCE_INLINE __forceinline__
#else
#define HOST_DEVICE
#define FORCE_INLINE inline __attribute__((always_inline))
#endif

// Reject a condition on the host with an error that names the problem.
#define RENDERERS_CHECK(cond, ...) TORCH_CHECK(cond, "renderers: ", __VA_ARGS__)
