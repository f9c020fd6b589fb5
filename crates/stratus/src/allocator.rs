//! The process allocator: mimalloc, called through its plain entry points.
//!
//! mimalloc instead of glibc's malloc: plans and deployments are large trees of small
//! allocations, and glibc spent most of a big plan in free-list upkeep and re-faulting the
//! pages it had trimmed. The `mimalloc` crate's allocator asks for every block through
//! `mi_malloc_aligned`, whose checks cost about 5% of the instructions of planning a large
//! blueprint; every mimalloc block is word-aligned already, so only stricter alignments
//! take that path here (callgrind on planning `bench/gen-blueprint 1000`: 180 M instructions
//! with the crate's allocator, 171 M with this one). mimalloc's v2 series would save 3 M
//! more, but keeps twice the idle memory after start-up (`cargo bench -p stratus --bench
//! serve`: 42 MiB against v3's 19 MiB, over the 30 MiB target).
//!
//! Shared by the binary and its benches (`#[path]`), so the figures are the binary's.

use std::alloc::{GlobalAlloc, Layout};
use std::ffi::c_void;

use libmimalloc_sys as mi;

/// The alignment every mimalloc block has (block sizes are multiples of a word).
const WORD: usize = std::mem::size_of::<usize>();

pub struct Mimalloc;

// SAFETY: each method forwards to the mimalloc function with the same contract: a block of
// at least `layout.size()` bytes aligned to `layout.align()` (plain calls only when mimalloc's
// own word alignment satisfies it), or null on failure; `dealloc` and `realloc` receive only
// pointers this allocator returned, which `mi_free` and `mi_realloc[_aligned]` accept.
unsafe impl GlobalAlloc for Mimalloc {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.align() <= WORD {
            mi::mi_malloc(layout.size()).cast()
        } else {
            mi::mi_malloc_aligned(layout.size(), layout.align()).cast()
        }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if layout.align() <= WORD {
            mi::mi_zalloc(layout.size()).cast()
        } else {
            mi::mi_zalloc_aligned(layout.size(), layout.align()).cast()
        }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        mi::mi_free(ptr.cast::<c_void>())
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if layout.align() <= WORD {
            mi::mi_realloc(ptr.cast::<c_void>(), new_size).cast()
        } else {
            mi::mi_realloc_aligned(ptr.cast::<c_void>(), new_size, layout.align()).cast()
        }
    }
}

#[cfg(test)]
mod tests {
    /// Blocks of every size and alignment are usable and aligned, through growth and
    /// shrinking.
    #[test]
    fn blocks_are_aligned_and_keep_their_contents() {
        use std::alloc::{GlobalAlloc, Layout};
        let allocator = super::Mimalloc;
        for align in [1, 2, 4, 8, 16, 32, 64, 4096] {
            for size in [1, 7, 8, 24, 48, 100, 4096, 100_000] {
                let layout = Layout::from_size_align(size, align).unwrap();
                unsafe {
                    let ptr = allocator.alloc(layout);
                    assert!(!ptr.is_null());
                    assert_eq!(ptr as usize % align, 0, "size {size} align {align}");
                    std::ptr::write_bytes(ptr, 0xAB, size);
                    let grown = allocator.realloc(ptr, layout, size * 3);
                    assert_eq!(grown as usize % align, 0);
                    assert_eq!(*grown.add(size - 1), 0xAB);
                    let grown_layout = Layout::from_size_align(size * 3, align).unwrap();
                    let zeroed = allocator.alloc_zeroed(layout);
                    assert_eq!(zeroed as usize % align, 0);
                    assert!(std::slice::from_raw_parts(zeroed, size)
                        .iter()
                        .all(|b| *b == 0));
                    allocator.dealloc(zeroed, layout);
                    allocator.dealloc(grown, grown_layout);
                }
            }
        }
    }
}
