#include "nearest.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

namespace quantcli {
namespace {

constexpr float kFar = 1.0e9f;  // squared, still far below float's overflow

typedef float f8 __attribute__((vector_size(32)));
typedef int i8 __attribute__((vector_size(32)));

// Built twice on x86-64, for AVX2 and for the SSE2 baseline, and picked at load time.
// Each lane does the same float operations in the same order (FMA contraction is off),
// so both versions return identical answers.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("avx2", "default")))
#endif
Nearest
search(const float* r, const float* g, const float* b, const float* a, int padded, const Point4& x) {
    const f8 xr = {x.c[0], x.c[0], x.c[0], x.c[0], x.c[0], x.c[0], x.c[0], x.c[0]};
    const f8 xg = {x.c[1], x.c[1], x.c[1], x.c[1], x.c[1], x.c[1], x.c[1], x.c[1]};
    const f8 xb = {x.c[2], x.c[2], x.c[2], x.c[2], x.c[2], x.c[2], x.c[2], x.c[2]};
    const f8 xa = {x.c[3], x.c[3], x.c[3], x.c[3], x.c[3], x.c[3], x.c[3], x.c[3]};
    const float inf = std::numeric_limits<float>::infinity();
    f8 best = {inf, inf, inf, inf, inf, inf, inf, inf};
    f8 second = best;
    i8 best_idx = {0, 1, 2, 3, 4, 5, 6, 7};
    i8 idx = best_idx;
    const i8 step = {8, 8, 8, 8, 8, 8, 8, 8};
    for (int j = 0; j < padded; j += 8) {
        f8 cr, cg, cb, ca;
        __builtin_memcpy(&cr, r + j, sizeof cr);
        __builtin_memcpy(&cg, g + j, sizeof cg);
        __builtin_memcpy(&cb, b + j, sizeof cb);
        __builtin_memcpy(&ca, a + j, sizeof ca);
        const f8 dr = xr - cr, dg = xg - cg, db = xb - cb, da = xa - ca;
        const f8 d = ((dr * dr + dg * dg) + db * db) + da * da;
        const i8 closer = d < best;
        second = closer ? best : (d < second ? d : second);
        best = closer ? d : best;
        best_idx = closer ? idx : best_idx;
        idx += step;
    }
    Nearest out{best_idx[0], best[0], second[0]};
    for (int lane = 1; lane < 8; ++lane) {
        const float d = best[lane];
        const int i = best_idx[lane];
        if (d < out.best || (d == out.best && i < out.index)) {
            out.second = out.best < second[lane] ? out.best : second[lane];
            out.best = d;
            out.index = i;
        } else {
            const float s = d < second[lane] ? d : second[lane];
            if (s < out.second) out.second = s;
        }
    }
    return out;
}

// The least of a vector's lanes, by halving.
template <typename V>
inline __attribute__((always_inline)) auto min_lane(V v) {
    V w = __builtin_shuffle(v, i8{4, 5, 6, 7, 0, 1, 2, 3});
    v = v < w ? v : w;
    w = __builtin_shuffle(v, i8{2, 3, 0, 1, 6, 7, 4, 5});
    v = v < w ? v : w;
    w = __builtin_shuffle(v, i8{1, 0, 3, 2, 5, 4, 7, 6});
    v = v < w ? v : w;
    return v[0];
}

// Exact nearest centre of `x` from centre `guess`, over `centres` with `near` and `row`,
// guess's block and row of NeighbourIndex (k - 1 = row_size neighbours by distance). With
// kBound, also a lower bound on the distance to every other centre (Nearest::second);
// without, only the index is meaningful.
template <bool kBound>
inline __attribute__((always_inline)) Nearest search_from(const Point4* centres,
                                                          const NeighbourIndex::NearBlock& near,
                                                          const NeighbourIndex::Neighbour* row, int row_size,
                                                          const Point4& x, int guess) {
    // Slack for float rounding: scan a little further than the bound strictly needs.
    constexpr float kSlack = 1.0e-3f;
    const float inf = std::numeric_limits<float>::infinity();
    const float u_sq = squared_distance(x, centres[guess]);
    int best = guess;
    float best_sq = u_sq;
    float second_sq = inf;
    if (row_size > 0) {
        // The closest neighbours all at once: most searches end with them. The lanes do
        // squared_distance's operations in its order.
        f8 cr, cg, cb, ca;
        __builtin_memcpy(&cr, near.c[0], sizeof cr);
        __builtin_memcpy(&cg, near.c[1], sizeof cg);
        __builtin_memcpy(&cb, near.c[2], sizeof cb);
        __builtin_memcpy(&ca, near.c[3], sizeof ca);
        const f8 dr = x.c[0] - cr, dg = x.c[1] - cg, db = x.c[2] - cb, da = x.c[3] - ca;
        const f8 d = ((dr * dr + dg * dg) + db * db) + da * da;
        i8 idx;
        __builtin_memcpy(&idx, near.index, sizeof idx);
        // Least (distance, index) among the lanes, and the least distance of the others:
        // lane minima by halving, so no lane waits on a branch.
        const float lane_sq = min_lane(d);
        const i8 tied = d == lane_sq;
        const int lane_index = min_lane(tied ? idx : i8{} + std::numeric_limits<std::int32_t>::max());
        if (lane_sq < best_sq || (lane_sq == best_sq && lane_index < best)) {
            if (kBound) second_sq = std::min(best_sq, min_lane(idx == lane_index ? f8{} + inf : d));
            best = lane_index;
            best_sq = lane_sq;
        } else {
            second_sq = lane_sq;
        }
    }
    const float u = std::sqrt(u_sq);
    float best_d = std::sqrt(best_sq);
    float beyond = inf;  // bound for unscanned centres
    for (int n = NeighbourIndex::kNear; n < row_size; ++n) {
        const NeighbourIndex::Neighbour& nb = row[n];
        if (nb.distance > u + best_d + kSlack) {
            // Every centre from here on is at least nb.distance - u away from x.
            beyond = nb.distance - u;
            break;
        }
        const float d_sq = squared_distance(x, centres[nb.index]);
        if (d_sq < best_sq || (d_sq == best_sq && nb.index < best)) {
            second_sq = best_sq;
            best = nb.index;
            best_sq = d_sq;
            best_d = std::sqrt(d_sq);
        } else if (d_sq < second_sq) {
            second_sq = d_sq;
        }
    }
    if (!kBound) return {best, best_d, 0.0f};
    return {best, best_d, std::min(std::sqrt(second_sq), beyond)};
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("avx2", "default")))
#endif
Nearest
search_bounded(const Point4* centres, const NeighbourIndex::NearBlock& near,
               const NeighbourIndex::Neighbour* row, int row_size, const Point4& x, int guess) {
    return search_from<true>(centres, near, row, row_size, x, guess);
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("avx2", "default")))
#endif
int search_index(const Point4* centres, const NeighbourIndex::NearBlock& near, const NeighbourIndex::Neighbour* row,
                 int row_size, const Point4& x, int guess) {
    return search_from<false>(centres, near, row, row_size, x, guess).index;
}

}  // namespace

CentreSet::CentreSet(const std::vector<Point4>& centres)
    : k_(static_cast<int>(centres.size())), padded_((k_ + kLanes - 1) / kLanes * kLanes) {
    if (padded_ == 0) padded_ = kLanes;
    for (auto& ch : ch_) ch.assign(padded_, kFar);
    for (int j = 0; j < k_; ++j) set(j, centres[j]);
}

void CentreSet::set(int j, const Point4& p) {
    for (int ch = 0; ch < 4; ++ch) ch_[ch][j] = p.c[ch];
}

Nearest CentreSet::nearest(const Point4& x) const {
    return search(ch_[0].data(), ch_[1].data(), ch_[2].data(), ch_[3].data(), padded_, x);
}

NeighbourIndex::NeighbourIndex(const std::vector<Point4>& centres)
    : k_(static_cast<int>(centres.size())),
      sorted_(static_cast<std::size_t>(k_) * (k_ > 0 ? k_ - 1 : 0)),
      near_(k_),
      half_gap_(k_, std::numeric_limits<float>::infinity()) {
    for (int j = 0; j < k_; ++j) {
        Neighbour* row = sorted_.data() + static_cast<std::size_t>(j) * (k_ - 1);
        int n = 0;
        for (int o = 0; o < k_; ++o) {
            if (o != j) row[n++] = {0.0f, o};
        }
    }
    place(centres, true);
}

void NeighbourIndex::update(const std::vector<Point4>& centres) {
    place(centres, false);
}

void NeighbourIndex::place(const std::vector<Point4>& centres, bool unordered) {
    centres_ = centres;
    const int row_size = k_ - 1;
    // Every pair's distance first, one row of the k x k table at a time over the centres
    // stored channel by channel: a loop the compiler vectorises, with squared_distance's
    // operations in its order (and sqrt correctly rounded in every lane).
    std::vector<float> plane[4];
    for (int ch = 0; ch < 4; ++ch) {
        plane[ch].resize(k_);
        for (int o = 0; o < k_; ++o) plane[ch][o] = centres[o].c[ch];
    }
    std::vector<float> distance(static_cast<std::size_t>(k_) * k_);
    for (int j = 0; j < k_; ++j) {
        const Point4 x = centres[j];
        float* out = distance.data() + static_cast<std::size_t>(j) * k_;
        const float *r = plane[0].data(), *g = plane[1].data(), *b = plane[2].data(), *a = plane[3].data();
        for (int o = 0; o < k_; ++o) {
            const float dr = x.c[0] - r[o], dg = x.c[1] - g[o], db = x.c[2] - b[o], da = x.c[3] - a[o];
            out[o] = std::sqrt(((dr * dr + dg * dg) + db * db) + da * da);
        }
    }
    // A neighbour as one integer, (distance bits, index): distances are >= 0, whose float
    // bits order as the floats do, so integers order as (distance, index) does.
    const auto key = [](float d, int index) {
        std::uint32_t bits;
        std::memcpy(&bits, &d, sizeof bits);
        return static_cast<std::uint64_t>(bits) << 32 | static_cast<std::uint32_t>(index);
    };
    std::vector<std::uint64_t> keys(row_size);
    std::vector<int> start(k_ + 1);
    for (int j = 0; j < k_; ++j) {
        Neighbour* row = sorted_.data() + static_cast<std::size_t>(j) * row_size;
        const float* from_j = distance.data() + static_cast<std::size_t>(j) * k_;
        if (unordered) {
            // Buckets by distance first (the bucket grows with the distance), so that the
            // insertion sort below finds the row nearly in order.
            float far = 0.0f;
            for (int n = 0; n < row_size; ++n) far = std::max(far, from_j[row[n].index]);
            const float scale = far > 0.0f ? static_cast<float>(row_size - 1) / far : 0.0f;
            std::fill(start.begin(), start.end(), 0);
            const auto bucket = [&](int o) {
                return std::min(static_cast<int>(from_j[o] * scale), row_size - 1);
            };
            for (int n = 0; n < row_size; ++n) ++start[bucket(row[n].index) + 1];
            for (int b = 1; b <= row_size; ++b) start[b] += start[b - 1];
            for (int n = 0; n < row_size; ++n) {
                const int o = row[n].index;
                keys[start[bucket(o)]++] = key(from_j[o], o);
            }
        } else {
            for (int n = 0; n < row_size; ++n) keys[n] = key(from_j[row[n].index], row[n].index);
        }
        // Insertion sort: linear on a row that is nearly in order.
        for (int n = 1; n < row_size; ++n) {
            const std::uint64_t item = keys[n];
            int m = n;
            while (m > 0 && item < keys[m - 1]) {
                keys[m] = keys[m - 1];
                --m;
            }
            keys[m] = item;
        }
        for (int n = 0; n < row_size; ++n) {
            const auto index = static_cast<int>(static_cast<std::uint32_t>(keys[n]));
            row[n] = {from_j[index], index};
        }
        half_gap_[j] = row_size > 0 ? 0.5f * row[0].distance : std::numeric_limits<float>::infinity();
        NearBlock& block = near_[j];
        for (int n = 0; n < kNear; ++n) {
            const bool real = n < row_size;
            for (int ch = 0; ch < 4; ++ch) block.c[ch][n] = real ? centres[row[n].index].c[ch] : kFar;
            block.index[n] = real ? row[n].index : std::numeric_limits<std::int32_t>::max();
        }
    }
}

Nearest NeighbourIndex::search(const Point4& x, int guess) const {
    return search_bounded(centres_.data(), near_[guess],
                          sorted_.data() + static_cast<std::size_t>(guess) * (k_ - 1), k_ - 1, x, guess);
}

int NeighbourIndex::nearest(const Point4& x, int guess) const {
    return search_index(centres_.data(), near_[guess],
                        sorted_.data() + static_cast<std::size_t>(guess) * (k_ - 1), k_ - 1, x, guess);
}

NeighbourIndex::Two NeighbourIndex::search_two(const Point4& x, int guess) const {
    constexpr float kSlack = 1.0e-3f;
    const float inf = std::numeric_limits<float>::infinity();
    const float u_sq = squared_distance(x, centres_[guess]);
    const float u = std::sqrt(u_sq);
    Two out{guess, -1, u_sq, inf};
    float second_d = inf;
    const Neighbour* row = sorted_.data() + static_cast<std::size_t>(guess) * (k_ - 1);
    for (int n = 0; n < k_ - 1; ++n) {
        const Neighbour& nb = row[n];
        // A centre closer to x than the second found so far is within u + second_d of
        // the guess.
        if (nb.distance > u + second_d + kSlack) break;
        const float d_sq = squared_distance(x, centres_[nb.index]);
        if (d_sq < out.best_sq || (d_sq == out.best_sq && nb.index < out.best)) {
            out.second = out.best;
            out.second_sq = out.best_sq;
            out.best = nb.index;
            out.best_sq = d_sq;
        } else if (d_sq < out.second_sq || (d_sq == out.second_sq && nb.index < out.second)) {
            out.second = nb.index;
            out.second_sq = d_sq;
        } else {
            continue;
        }
        second_d = std::sqrt(out.second_sq);
    }
    return out;
}

}  // namespace quantcli
