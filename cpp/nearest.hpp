// Nearest-centre search: the inner loop of k-means, remapping and dithering.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "color.hpp"

namespace quantcli {

struct Nearest {
    int index;     // closest centre; the lowest index among equals
    float best;    // its squared distance
    float second;  // squared distance to the next closest centre
};

// Centres stored channel by channel and padded to a multiple of the SIMD width with
// far-away dummies, so the search runs over whole vectors with no tail loop.
class CentreSet {
public:
    static constexpr int kLanes = 8;

    explicit CentreSet(const std::vector<Point4>& centres);
    void set(int j, const Point4& p);

    int size() const { return k_; }
    Nearest nearest(const Point4& x) const;

private:
    int k_;
    int padded_;
    std::vector<float> ch_[4];
};

// For each centre, the other centres sorted by distance. A point's nearest centre can
// then be found from any centre near it (a guess) by the triangle inequality: a centre c
// can beat the best found so far, at distance d_best, only if
// |c - guess| < |x - guess| + d_best. Most searches stop after a handful of centres.
class NeighbourIndex {
public:
    explicit NeighbourIndex(const std::vector<Point4>& centres);

    // Moves the centres. Each row keeps its previous order and is re-sorted by insertion,
    // which is linear when the centres moved little (later k-means iterations).
    void update(const std::vector<Point4>& centres);

    // Half the distance from centre j to its closest other centre: a point within this
    // distance of centre j has no closer centre.
    float half_gap(int j) const { return half_gap_[j]; }

    // Exact nearest centre of `x`, starting from centre `guess`. `second` is a lower
    // bound on the distance to every other centre, as a Euclidean (not squared) value;
    // `best` is likewise Euclidean.
    Nearest search(const Point4& x, int guess) const;

    // The two nearest centres of `x` and their squared distances (second is -1 when
    // there is only one centre).
    struct Two {
        int best, second;
        float best_sq, second_sq;
    };
    Two search_two(const Point4& x, int guess) const;

    // Exact nearest centre of `x`, starting from centre `guess`, when only its index counts.
    int nearest(const Point4& x, int guess) const;

    // How many of a centre's closest neighbours a search measures at once (SIMD).
    static constexpr int kNear = 8;

    // The layout the search kernels (nearest.cpp) read.
    struct Neighbour {
        float distance;
        int index;
    };
    // A centre's kNear closest neighbours, channel by channel; padded with far-away
    // dummies when there are fewer.
    struct NearBlock {
        float c[4][kNear];
        std::int32_t index[kNear];
    };

private:
    // Sets the centres and sorts every row: from scratch when `unordered`, else by insertion.
    void place(const std::vector<Point4>& centres, bool unordered);

    int k_;
    std::vector<Point4> centres_;
    std::vector<Neighbour> sorted_;  // k rows of k - 1 neighbours
    std::vector<NearBlock> near_;    // one per centre
    std::vector<float> half_gap_;
};

}  // namespace quantcli
