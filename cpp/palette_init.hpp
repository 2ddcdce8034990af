// Stage 2: the initial palette that k-means starts from.
#pragma once

#include <cstdint>
#include <vector>

#include "histogram.hpp"

namespace quantcli {

enum class InitMethod { kMedianCut, kKMeansPlusPlus };

// Both functions return `k` centres: the `fixed` ones first, unchanged, then `k -
// fixed.size()` chosen from the points that are not fixed. The caller guarantees more
// distinct non-fixed points than that.

// Variance-based median cut: split the box with the largest squared error, along its
// channel of largest variance, at the value that minimises the two halves' error.
// When `box_of` is given it receives, for every point, the centre made from its box
// (fixed points: their fixed centre), a good first guess for the nearest-centre search.
std::vector<Point4> median_cut_init(const WeightedPoints& data, int k, const std::vector<Point4>& fixed,
                                    std::vector<std::int32_t>* box_of = nullptr);

// Weighted k-means++ (D^2 sampling with the weights) from `seed`.
std::vector<Point4> kmeanspp_init(const WeightedPoints& data, int k, std::uint64_t seed,
                                  const std::vector<Point4>& fixed);

// The splitmix64 generator: tiny, and the same sequence on every platform.
class SplitMix64 {
public:
    explicit SplitMix64(std::uint64_t seed) : state_(seed) {}
    std::uint64_t next() {
        std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
    }
    // Uniform in [0, 1) with 53 random bits.
    double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

private:
    std::uint64_t state_;
};

}  // namespace quantcli
