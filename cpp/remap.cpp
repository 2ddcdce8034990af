#include "remap.hpp"

#include <algorithm>
#include <cmath>

#include "parallel.hpp"

namespace quantcli {

void remap_by_color(const std::vector<std::uint32_t>& pixel_color,
                    const std::vector<std::int32_t>& color_label, std::uint8_t* labels, int threads) {
    constexpr std::size_t kBlock = 1 << 16;
    const std::size_t n = pixel_color.size();
    parallel_for(block_count(n, kBlock), threads, [&](std::size_t b) {
        for (std::size_t p = b * kBlock; p < std::min(n, (b + 1) * kBlock); ++p) {
            labels[p] = static_cast<std::uint8_t>(color_label[pixel_color[p]]);
        }
    });
}

void remap_preferring_runs(const std::vector<std::uint32_t>& pixel_color, std::size_t width,
                           const std::vector<std::int32_t>& best, const std::vector<std::int32_t>& second,
                           const std::vector<float>& best_sq, const std::vector<float>& second_sq,
                           float margin, std::uint8_t* labels) {
    const std::size_t n = pixel_color.size();
    for (std::size_t p = 0; p < n; ++p) {
        const std::uint32_t c = pixel_color[p];
        int label = best[c];
        // Exact matches stay exact.
        if (second[c] >= 0 && best_sq[c] > 0.0f && second_sq[c] - best_sq[c] <= margin) {
            const std::size_t x = p % width;
            const bool left = x > 0 && labels[p - 1] == second[c];
            const bool up = p >= width && labels[p - width] == second[c];
            if (left || up) label = second[c];
        }
        labels[p] = static_cast<std::uint8_t>(label);
    }
}

}  // namespace quantcli
