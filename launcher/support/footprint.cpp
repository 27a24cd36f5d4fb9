// See footprint.hpp. Measured on the benchmark machine: the supervisor of `hardrun run` held about 2.5 MiB
// resident while the workload ran, almost all of it code pages start-up had touched once (CLI parsing,
// planning, seccomp compilation); after release_startup_memory() it holds what the wait loop needs.
#include "hardrun/support/footprint.hpp"

#include <elf.h>
#include <link.h>
#include <malloc.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>

namespace hardrun::footprint {

namespace {

int drop_readonly_segments(struct dl_phdr_info* info, size_t, void*) {
    if (info->dlpi_addr == ::getauxval(AT_SYSINFO_EHDR)) return 0;  // the vDSO is the kernel's, not ours
    const auto page = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
    // the RELRO range was written by the loader (relocations) before it became read-only: keep it
    std::uintptr_t relro_lo = 0, relro_hi = 0;
    for (int i = 0; i < info->dlpi_phnum; ++i) {
        const ElfW(Phdr)& ph = info->dlpi_phdr[i];
        if (ph.p_type == PT_GNU_RELRO) {
            relro_lo = (info->dlpi_addr + ph.p_vaddr) & ~(page - 1);
            relro_hi = (info->dlpi_addr + ph.p_vaddr + ph.p_memsz + page - 1) & ~(page - 1);
        }
    }
    for (int i = 0; i < info->dlpi_phnum; ++i) {
        const ElfW(Phdr)& ph = info->dlpi_phdr[i];
        if (ph.p_type != PT_LOAD || (ph.p_flags & PF_W) || ph.p_filesz != ph.p_memsz) continue;
        // whole pages inside the segment only: a partial page at either end may belong to its neighbour
        std::uintptr_t lo = (info->dlpi_addr + ph.p_vaddr + page - 1) & ~(page - 1);
        std::uintptr_t hi = (info->dlpi_addr + ph.p_vaddr + ph.p_filesz) & ~(page - 1);
        if (relro_hi > relro_lo && lo < relro_hi && hi > relro_lo) continue;  // overlaps RELRO: leave it
        if (hi > lo) (void)::madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_DONTNEED);
    }
    return 0;
}

}  // namespace

void release_startup_memory() noexcept {
    ::malloc_trim(0);
    ::dl_iterate_phdr(drop_readonly_segments, nullptr);
}

}  // namespace hardrun::footprint
