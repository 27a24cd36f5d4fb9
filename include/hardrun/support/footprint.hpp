// The supervisor's memory footprint while the workload runs (docs/performance.md).
#pragma once

namespace hardrun::footprint {

// Once the workload runs, the supervisor only waits for it and forwards signals: give back what start-up
// touched. Freed heap goes back to the kernel (malloc_trim), and the pages of hardrun's own read-only
// segments (code, read-only data, unwind tables) are dropped from its page tables with MADV_DONTNEED;
// they are clean file pages, which the kernel maps back in on demand. Writable and RELRO segments are
// never touched. Best effort: never fails, never throws.
void release_startup_memory() noexcept;

}  // namespace hardrun::footprint
