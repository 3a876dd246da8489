// Heap set-up for big workflows. Reading a 10,000-step workflow builds some
// 80 MB of small objects (yaml-cpp's nodes, then ours). Faulting that in 4 KiB
// at a time costs more than the parsing itself on a virtual machine (each fault
// is a trap into the hypervisor): 14,000 faults against 500 with huge pages.
// So before reading a big file the heap is grown once, by about what the
// parse will use, that region is marked for transparent huge pages, and freed
// memory is kept for the run instead of being handed back and faulted in again.
// The scheduler's threads share that one heap (one malloc arena): a chain of
// steps runs on whichever thread ran the step before, and a per-thread arena
// would fault in fresh memory while the parse's freed memory sits unused.
#include <malloc.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>

#include "cli/cli.h"

namespace ctflow::cli {

void prepare_heap(std::uintmax_t workflow_bytes) {
  constexpr std::uintmax_t kSmall = 256 * 1024;  // below this, the default heap is as fast
  constexpr uintptr_t kHuge = 2 * 1024 * 1024;
  if (workflow_bytes < kSmall) return;
  const auto want = static_cast<size_t>(std::min<std::uintmax_t>(workflow_bytes * 96, std::uintmax_t{1} << 30));
  mallopt(M_TOP_PAD, static_cast<int>(want));
  mallopt(M_TRIM_THRESHOLD, static_cast<int>(want));
  mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024);  // big blocks on the heap too: no mmap per block
  mallopt(M_ARENA_MAX, 1);
  const uintptr_t lo = (reinterpret_cast<uintptr_t>(sbrk(0)) + kHuge - 1) & ~(kHuge - 1);
  void* volatile grow = std::malloc(kHuge);  // extends the heap by TOP_PAD
  const uintptr_t hi = reinterpret_cast<uintptr_t>(sbrk(0)) & ~(kHuge - 1);
  if (hi > lo) (void)madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_HUGEPAGE);  // advice: failure is harmless
  std::free(grow);
}

}  // namespace ctflow::cli
