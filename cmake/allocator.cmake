# The allocator of the programs we ship: the hub and the adapters.
#
# They allocate through tcmalloc (gperftools' libtcmalloc_minimal) instead of glibc's malloc.
# Their threads hand memory to each other all the time: the engine builds a message, ZeroMQ's
# I/O thread frees it, and a freed block that glibc cannot keep in the freeing thread's cache
# goes back to its owner's arena under that arena's lock. With glibc, 12% of the engine
# thread's samples on durable intake were in malloc or free, some of them waiting on that lock.
# With tcmalloc the engine used 6–9% less CPU on targets 2 and 4 (bench/TRIED.md, "The
# allocator"). Test tools, stand-ins and benchmark baselines keep glibc's, so that the load
# they make and the baselines they measure do not change with ours.
#
# Never under a sanitizer, which must own malloc itself: a fuzz build, or flags that ask for
# AddressSanitizer, ThreadSanitizer or MemorySanitizer, turn it off whatever TAXHUB_TCMALLOC says.
set(taxhub_use_tcmalloc ${TAXHUB_TCMALLOC})
if(taxhub_use_tcmalloc AND (TAXHUB_FUZZ OR CMAKE_CXX_FLAGS MATCHES "-fsanitize=[a-z,]*(address|thread|memory)"))
  message(STATUS "tcmalloc: off under a sanitizer")
  set(taxhub_use_tcmalloc OFF)
endif()
if(taxhub_use_tcmalloc)
  pkg_check_modules(TCMALLOC REQUIRED IMPORTED_TARGET libtcmalloc_minimal)
endif()

# Links a shipped program with the product's allocator.
function(taxhub_program target)
  if(taxhub_use_tcmalloc)
    target_link_libraries(${target} PRIVATE PkgConfig::TCMALLOC)
  endif()
endfunction()
