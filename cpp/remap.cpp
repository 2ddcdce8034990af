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

double remap_preferring_runs(const std::vector<std::uint32_t>& pixel_color, std::size_t width,
                             const std::vector<std::int32_t>& best, const std::vector<std::int32_t>& second,
                             const std::vector<float>& best_sq, const std::vector<float>& second_sq,
                             const std::vector<std::uint64_t>& color_counts, float margin,
                             std::uint8_t* labels) {
    // The error if every pixel took its nearest entry, corrected pixel by pixel below.
    double sse = 0.0;
    for (std::size_t c = 0; c < best.size(); ++c) sse += static_cast<double>(color_counts[c]) * best_sq[c];
    double extra = 0.0;
    const std::size_t n = pixel_color.size();
    for (std::size_t p = 0; p < n; ++p) {
        const std::uint32_t c = pixel_color[p];
        int label = best[c];
        // Exact matches stay exact.
        if (second[c] >= 0 && best_sq[c] > 0.0f && second_sq[c] - best_sq[c] <= margin) {
            const std::size_t x = p % width;
            const bool left = x > 0 && labels[p - 1] == second[c];
            const bool up = p >= width && labels[p - width] == second[c];
            if (left || up) {
                label = second[c];
                extra += static_cast<double>(second_sq[c] - best_sq[c]);
            }
        }
        labels[p] = static_cast<std::uint8_t>(label);
    }
    return sse + extra;
}

double remap_dithered(const std::uint8_t* pixels, std::size_t width, std::size_t height, int channels,
                      const std::vector<Point4>& palette, std::uint8_t* labels) {
    const CentreSet set(palette);
    // Error carried into the current and the next row, with one pixel of margin each side.
    std::vector<float> cur((width + 2) * 4, 0.0f), nxt((width + 2) * 4, 0.0f);
    double sse = 0.0;
    for (std::size_t y = 0; y < height; ++y) {
        const bool forward = (y % 2) == 0;
        const long dir = forward ? 1 : -1;
        for (std::size_t step = 0; step < width; ++step) {
            const std::size_t x = forward ? step : width - 1 - step;
            const std::size_t p = y * width + x;
            const Point4 original = point_of(pixel_key(pixels, p, channels));
            const bool transparent = original.c[3] == 0.0f;
            Point4 wanted = original;
            float* err = &cur[(x + 1) * 4];
            if (!transparent) {
                for (int ch = 0; ch < 4; ++ch) {
                    wanted.c[ch] = std::clamp(original.c[ch] + err[ch], 0.0f, 255.0f);
                }
            }
            const int idx = set.nearest(wanted).index;
            labels[p] = static_cast<std::uint8_t>(idx);
            const Point4& got = palette[idx];
            sse += squared_distance(original, got);
            if (transparent) continue;
            for (int ch = 0; ch < 4; ++ch) {
                const float e = wanted.c[ch] - got.c[ch];
                const std::size_t ahead = static_cast<std::size_t>(static_cast<long>(x + 1) + dir);
                const std::size_t behind = static_cast<std::size_t>(static_cast<long>(x + 1) - dir);
                cur[ahead * 4 + ch] += e * (7.0f / 16.0f);
                nxt[behind * 4 + ch] += e * (3.0f / 16.0f);
                nxt[(x + 1) * 4 + ch] += e * (5.0f / 16.0f);
                nxt[ahead * 4 + ch] += e * (1.0f / 16.0f);
            }
        }
        cur.swap(nxt);
        std::fill(nxt.begin(), nxt.end(), 0.0f);
    }
    return sse;
}

}  // namespace quantcli
