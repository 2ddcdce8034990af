#include "nearest.hpp"

#include <algorithm>
#include <cmath>
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
      half_gap_(k_, std::numeric_limits<float>::infinity()) {
    for (int j = 0; j < k_; ++j) {
        Neighbour* row = sorted_.data() + static_cast<std::size_t>(j) * (k_ - 1);
        int n = 0;
        for (int o = 0; o < k_; ++o) {
            if (o != j) row[n++] = {0.0f, o};
        }
    }
    update(centres);
}

void NeighbourIndex::update(const std::vector<Point4>& centres) {
    centres_ = centres;
    const int row_size = k_ - 1;
    for (int j = 0; j < k_; ++j) {
        Neighbour* row = sorted_.data() + static_cast<std::size_t>(j) * row_size;
        for (int n = 0; n < row_size; ++n) {
            row[n].distance = std::sqrt(squared_distance(centres[j], centres[row[n].index]));
        }
        // Insertion sort by (distance, index): linear on a row that is nearly in order.
        for (int n = 1; n < row_size; ++n) {
            const Neighbour item = row[n];
            int m = n;
            while (m > 0 && (row[m - 1].distance > item.distance ||
                             (row[m - 1].distance == item.distance && row[m - 1].index > item.index))) {
                row[m] = row[m - 1];
                --m;
            }
            row[m] = item;
        }
        half_gap_[j] = row_size > 0 ? 0.5f * row[0].distance : std::numeric_limits<float>::infinity();
    }
}

Nearest NeighbourIndex::search(const Point4& x, int guess) const {
    // Slack for float rounding: scan a little further than the bound strictly needs.
    constexpr float kSlack = 1.0e-3f;
    const float u_sq = squared_distance(x, centres_[guess]);
    const float u = std::sqrt(u_sq);
    int best = guess;
    float best_sq = u_sq;
    float best_d = u;
    float second_sq = std::numeric_limits<float>::infinity();
    float beyond = std::numeric_limits<float>::infinity();  // bound for unscanned centres
    const Neighbour* row = sorted_.data() + static_cast<std::size_t>(guess) * (k_ - 1);
    for (int n = 0; n < k_ - 1; ++n) {
        const Neighbour& nb = row[n];
        if (nb.distance > u + best_d + kSlack) {
            // Every centre from here on is at least nb.distance - u away from x.
            beyond = nb.distance - u;
            break;
        }
        const float d_sq = squared_distance(x, centres_[nb.index]);
        if (d_sq < best_sq || (d_sq == best_sq && nb.index < best)) {
            second_sq = best_sq;
            best = nb.index;
            best_sq = d_sq;
            best_d = std::sqrt(d_sq);
        } else if (d_sq < second_sq) {
            second_sq = d_sq;
        }
    }
    return {best, best_d, std::min(std::sqrt(second_sq), beyond)};
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
