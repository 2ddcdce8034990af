// Stage 1: the exact colour histogram of an image.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "color.hpp"

namespace quantcli {

// Unique colours sorted by key, each with the number of pixels that have it.
struct Histogram {
    std::vector<ColorKey> colors;
    std::vector<std::uint64_t> counts;
    // Optional, one per colour: the weight the palette fit gives the colour instead of its
    // count (the sum of its pixels' importance). Empty: the counts.
    std::vector<std::uint64_t> weights;
    // Low bits dropped from each channel before counting (build_histogram's max_colors):
    // 0 for the exact histogram; otherwise each entry is the rounded mean of the pixels
    // of one cell of the coarser grid, and `colors` only approximate the pixels.
    int dropped_bits = 0;

    std::size_t size() const { return colors.size(); }
    std::uint64_t total() const;
};

// Counts the colours of `n` interleaved RGB/RGBA pixels with an open-addressing hash
// table, then orders them by key with a radix sort. When `pixel_color` is not null it
// receives, for every pixel, the index of its colour in the returned histogram. Large
// images are counted on up to `threads` threads; the result does not depend on it.
// With `max_colors` > 0 an image of more colours is counted on a coarser grid instead
// (the fewest low bits dropped from R, G, B and translucent alpha that leave at most
// `max_colors` cells; opaque and fully transparent stay exact), each cell standing for its
// pixels by their rounded mean: the memory and the palette stages' work then grow with
// `max_colors`, not with the image's colours. The exact count is never built for such an
// image.
Histogram build_histogram(const std::uint8_t* pixels, std::size_t n, int channels,
                          std::vector<std::uint32_t>* pixel_color = nullptr, int threads = 1,
                          std::size_t max_colors = 0);

// Adds counts colour by colour; the result is sorted like its inputs.
Histogram merge_histograms(const Histogram& a, const Histogram& b);

// Points with weights: what the palette stages work on. Either a histogram's colours
// with their pixel counts, or a coarser summary of them.
struct WeightedPoints {
    std::vector<Point4> points;
    std::vector<double> weights;

    std::size_t size() const { return points.size(); }
};

WeightedPoints to_points(const Histogram& hist);

}  // namespace quantcli
