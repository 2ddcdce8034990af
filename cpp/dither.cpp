#include "dither.hpp"

#include <algorithm>
#include <array>
#include <cmath>

#include "nearest.hpp"

namespace quantcli {
namespace {

// Distances in units of the perceptual space, where 255 spans black to white and a
// just-noticeable lightness step is about 5. Chosen by SSIMULACRA2 and bytes on the
// benchmark corpus (bench/results/quality.md).
// Both grow as sqrt(64 / entries) below 64 entries, where the gaps between entries are
// wider than they allow: on the 1 MP corpus this gave +0.9 points at K=16 (+0.6% bytes),
// +2.1 at K=8 (+3.2%), +0.1 at K=32, and changes nothing from 64 entries up.
// Below 64 entries the contrast that hides banding grows too; see flatness_weights.
constexpr float kClamp = 24.0f;  // most the target may move from the pixel, per channel
constexpr float kDamp = 20.0f;   // a longer error is shortened to this before it spreads
constexpr float kFullEntries = 64.0f;
// A shorter error is dropped: invisible, and spreading it breaks runs (-4% bytes at
// K=256 for 0.5 points of SSIMULACRA2 against 0.5).
constexpr float kTiny = 1.5f;
// A pixel keeps the previous pixel's entry when that is at most this much (squared) farther
// from its target than the nearest entry; the difference is diffused on like any error.
// Runs are what deflate packs: 4 gave 11% fewer bytes at K=256 and 4% at K=64 for 0.6 and
// 0.4 SSIMULACRA2 points.
constexpr float kRunMargin = 4.0f;

// The dither weight (0..255) of each flatness value. The flatness map puts its half point
// at a contrast h (kHalfContrast in importance.cpp), which suits the small steps of 64 entries or more. Below
// that, the steps between entries are wider than the texture that hid them: at K=16 the star field of a
// smooth wallpaper left its sky undithered and banded. There the half point moves to h * 64 / entries, by
// recovering each flatness's contrast c = h (255 - f) / f; the weight is 255 r f / (r f + 255 - f), r = 64 /
// entries. On the 1 MP corpus: K=32 +3.2 SSIMULACRA2 points for +6.6% bytes, K=16 +8.7 for +13.9% (0.98x
// pngquant 3's bytes, 8 points above its score), K=8 +11.2 for +21.5%. From 64 entries up the weight is the
// flatness itself.
std::array<float, 256> flatness_weights(std::size_t entries) {
    std::array<float, 256> weight;
    const float r = std::max(1.0f, kFullEntries / static_cast<float>(entries));
    for (int f = 0; f < 256; ++f) {
        const float ff = static_cast<float>(f);
        weight[f] = r == 1.0f ? ff : 255.0f * r * ff / (r * ff + 255.0f - ff);
    }
    return weight;
}

}  // namespace

void remap_dithered(const std::vector<Point4>& color_points, const std::vector<std::uint32_t>& pixel_color,
                    const std::vector<std::int32_t>& color_label, const std::vector<std::uint8_t>& flatness,
                    std::size_t width, std::size_t height, const std::vector<Point4>& palette, float level,
                    std::uint8_t* labels) {
    const NeighbourIndex index(palette);
    // Error carried into the current and the next row, with one pixel of margin each side.
    std::vector<float> cur((width + 2) * 4, 0.0f), nxt((width + 2) * 4, 0.0f);
    // The row's colours, gathered before the row is diffused: the gathers are cache misses
    // that overlap when nothing waits on them, and the diffusion then reads in order.
    std::vector<Point4> row_points(width);
    std::vector<std::int32_t> row_labels(width);
    const float strength = level / 255.0f;
    const float spread = std::sqrt(std::max(1.0f, kFullEntries / static_cast<float>(palette.size())));
    const float clamp = kClamp * spread, damp = kDamp * spread;
    const std::array<float, 256> weight = flatness_weights(palette.size());
    for (std::size_t y = 0; y < height; ++y) {
        const std::uint32_t* row_colors = pixel_color.data() + y * width;
        for (std::size_t x = 0; x < width; ++x) {
            row_points[x] = color_points[row_colors[x]];
            row_labels[x] = color_label[row_colors[x]];
        }
        const bool forward = (y % 2) == 0;  // serpentine
        const long dir = forward ? 1 : -1;
        for (std::size_t step = 0; step < width; ++step) {
            const std::size_t x = forward ? step : width - 1 - step;
            const std::size_t p = y * width + x;
            const Point4& original = row_points[x];
            if (original.c[3] == 0.0f) {
                labels[p] = static_cast<std::uint8_t>(row_labels[x]);
                continue;
            }
            float* err = &cur[(x + 1) * 4];
            const float s = strength * weight[flatness[p]];
            Point4 wanted = original;
            for (int ch = 0; ch < 4; ++ch) {
                wanted.c[ch] += std::clamp(s * err[ch], -clamp, clamp);
            }
            // Many targets (a third, on photos at K=256) stay within half the gap around their
            // colour's own entry, which is then the nearest: no search needed.
            const int guess = row_labels[x];
            const float gap = index.half_gap(guess);
            int idx =
                squared_distance(wanted, palette[guess]) < gap * gap ? guess : index.nearest(wanted, guess);
            if (step > 0) {
                const int previous = labels[forward ? p - 1 : p + 1];
                if (previous != idx && squared_distance(wanted, palette[previous]) <=
                                           squared_distance(wanted, palette[idx]) + kRunMargin) {
                    idx = previous;
                }
            }
            labels[p] = static_cast<std::uint8_t>(idx);
            Point4 e;
            float e_sq = 0.0f;
            for (int ch = 0; ch < 4; ++ch) {
                e.c[ch] = wanted.c[ch] - palette[idx].c[ch];
                e_sq += e.c[ch] * e.c[ch];
            }
            if (e_sq < kTiny * kTiny) continue;
            if (e_sq > damp * damp) {
                const float f = damp / std::sqrt(e_sq);
                for (float& v : e.c) v *= f;
            }
            const std::size_t ahead = static_cast<std::size_t>(static_cast<long>(x + 1) + dir);
            const std::size_t behind = static_cast<std::size_t>(static_cast<long>(x + 1) - dir);
            for (int ch = 0; ch < 4; ++ch) {
                cur[ahead * 4 + ch] += e.c[ch] * (7.0f / 16.0f);
                nxt[behind * 4 + ch] += e.c[ch] * (3.0f / 16.0f);
                nxt[(x + 1) * 4 + ch] += e.c[ch] * (5.0f / 16.0f);
                nxt[ahead * 4 + ch] += e.c[ch] * (1.0f / 16.0f);
            }
        }
        cur.swap(nxt);
        std::fill(nxt.begin(), nxt.end(), 0.0f);
    }
}

}  // namespace quantcli
