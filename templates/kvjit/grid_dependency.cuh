// Programmatic dependent launch (sm_90+). A launch made with the driver's programmatic stream serialization
// attribute may be scheduled while the kernel before it in the stream still runs. Whatever a decode reads (q,
// the cache, the tables) may be that kernel's output, so nothing is read before wait_for_prior_grids(): what
// the overlap saves is the launch itself (the CTAs are resident and have their indices when the previous grid
// ends). A kernel launched without the attribute does not wait; its signal takes effect only for a next
// launch that has it. kEnabled is the Config's kGridDependency: the instructions exist from sm_90 on.
#pragma once

namespace kvjit {

template <bool kEnabled>
__device__ __forceinline__ void wait_for_prior_grids() {
  if constexpr (kEnabled) asm volatile("griddepcontrol.wait;" ::: "memory");
}

// Lets the next launch's CTAs be scheduled once every CTA of this grid has signalled (or ended); they wait in
// wait_for_prior_grids until this grid has finished and its writes are visible. The decode bodies signal
// when their loop is done, so the next launch is placed during this one's end and merge. Signalled at the
// start instead, f16 at 1 x 32768 (256 CTAs) ran 8% slower back to back on an H100: the next launch's CTAs
// then fill the free slots early and are not spread over the SMs as a launch into an empty GPU is.
template <bool kEnabled>
__device__ __forceinline__ void allow_dependent_grids() {
  if constexpr (kEnabled) asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
}

}  // namespace kvjit
