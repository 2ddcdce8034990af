// A minimal parallel loop. Work is cut into blocks chosen by the caller, never by the
// thread count, and callers combine block results in block order: the answer is the
// same for any number of threads.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <exception>
#include <mutex>
#include <new>
#include <system_error>
#include <thread>
#include <vector>

namespace quantcli {

// The number of threads to use when the caller asked for `requested` (0: all cores).
inline int resolve_threads(int requested) {
    if (requested > 0) return requested;
    const unsigned hw = std::thread::hardware_concurrency();
    return hw == 0 ? 1 : static_cast<int>(hw);
}

// Calls body(b) for every block b in [0, n_blocks), on up to `threads` threads: fewer
// when the system cannot start that many. The first exception a body throws is
// rethrown here once every thread has stopped.
template <typename Body>
void parallel_for(std::size_t n_blocks, int threads, Body&& body) {
    const std::size_t workers =
        std::min<std::size_t>(n_blocks, static_cast<std::size_t>(std::max(threads, 1)));
    if (workers <= 1) {
        for (std::size_t b = 0; b < n_blocks; ++b) body(b);
        return;
    }
    std::atomic<std::size_t> next{0};
    std::exception_ptr error;
    std::mutex error_lock;
    auto run = [&] {
        for (std::size_t b = next++; b < n_blocks; b = next++) {
            try {
                body(b);
            } catch (...) {
                const std::lock_guard<std::mutex> guard(error_lock);
                if (!error) error = std::current_exception();
                next = n_blocks;
            }
        }
    };
    std::vector<std::thread> pool;
    try {
        pool.reserve(workers - 1);
        for (std::size_t t = 1; t < workers; ++t) pool.emplace_back(run);
    } catch (const std::system_error&) {
        // The system refused another thread (a memory or process limit): the threads
        // already started and this one share the blocks, so the result is unchanged.
    } catch (const std::bad_alloc&) {
    }
    run();
    for (std::thread& t : pool) t.join();
    if (error) std::rethrow_exception(error);
}

// Blocks of `block` items covering [0, n): the b-th is [b * block, min(n, (b+1) * block)).
inline std::size_t block_count(std::size_t n, std::size_t block) {
    return (n + block - 1) / block;
}

}  // namespace quantcli
