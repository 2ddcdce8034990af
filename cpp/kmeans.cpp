#include "kmeans.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

namespace quantcli {
namespace {

// Slack for float rounding in the bound tests: a point is skipped only when its bounds
// prove the assignment with this much to spare.
constexpr float kBoundSlack = 1.0e-3f;

struct ClusterSums {
    std::vector<std::array<std::int64_t, 4>> sum;  // exact: counts times 8-bit channels
    std::vector<std::uint64_t> weight;
    std::vector<std::uint32_t> members;  // unique colours in the cluster

    explicit ClusterSums(int k) : sum(k), weight(k, 0), members(k, 0) {}

    void add(int j, ColorKey key, std::uint64_t w, int sign) {
        for (int ch = 0; ch < 4; ++ch) {
            sum[j][ch] += sign * static_cast<std::int64_t>(w * key_channel(key, ch));
        }
        weight[j] = sign > 0 ? weight[j] + w : weight[j] - w;
        members[j] = sign > 0 ? members[j] + 1 : members[j] - 1;
    }

    Point4 mean(int j) const {
        Point4 p;
        for (int ch = 0; ch < 4; ++ch) {
            p.c[ch] = static_cast<float>(static_cast<double>(sum[j][ch]) /
                                         static_cast<double>(weight[j]));
        }
        return p;
    }
};

}  // namespace

std::vector<std::int32_t> assign_nearest(const Histogram& hist, const std::vector<Point4>& centres,
                                         const std::vector<std::int32_t>* guess) {
    std::vector<std::int32_t> out(hist.size());
    if (guess) {
        const NeighbourIndex index(centres);
        for (std::size_t i = 0; i < hist.size(); ++i) {
            out[i] = index.search(point_of(hist.colors[i]), (*guess)[i]).index;
        }
    } else {
        const CentreSet set(centres);
        for (std::size_t i = 0; i < hist.size(); ++i) out[i] = set.nearest(point_of(hist.colors[i])).index;
    }
    return out;
}

KMeansResult kmeans(const Histogram& hist, std::vector<Point4> centres, int n_fixed, int max_iter,
                    double tol) {
    const std::size_t n = hist.size();
    const int k = static_cast<int>(centres.size());
    std::vector<Point4> points(n);
    for (std::size_t i = 0; i < n; ++i) points[i] = point_of(hist.colors[i]);

    CentreSet set(centres);
    std::vector<std::int32_t> assign(n);
    std::vector<float> upper(n), lower(n);
    ClusterSums sums(k);
    for (std::size_t i = 0; i < n; ++i) {
        const Nearest near = set.nearest(points[i]);
        assign[i] = near.index;
        upper[i] = std::sqrt(near.best);
        lower[i] = std::sqrt(near.second);
        sums.add(near.index, hist.colors[i], hist.counts[i], +1);
    }

    std::vector<float> move(k);
    int iterations = 0;
    while (iterations < max_iter) {
        ++iterations;
        // Update step: every free centre to the mean of its colours.
        std::vector<Point4> next = centres;
        for (int j = n_fixed; j < k; ++j) {
            if (sums.weight[j] > 0) next[j] = sums.mean(j);
        }
        // Re-seed empty centres on the worst-fitting colour.
        for (int j = n_fixed; j < k; ++j) {
            if (sums.weight[j] > 0) continue;
            std::size_t worst = n;
            float worst_d = -1.0f;
            for (std::size_t i = 0; i < n; ++i) {
                if (sums.members[assign[i]] < 2) continue;
                const float d = squared_distance(points[i], next[assign[i]]);
                if (d > worst_d) worst_d = d, worst = i;
            }
            if (worst == n) break;  // fewer colours than centres: the caller prevents this
            const int from = assign[worst];
            sums.add(from, hist.colors[worst], hist.counts[worst], -1);
            sums.add(j, hist.colors[worst], hist.counts[worst], +1);
            assign[worst] = j;
            upper[worst] = 0.0f;
            lower[worst] = 0.0f;
            next[j] = points[worst];
            if (from >= n_fixed) next[from] = sums.mean(from);
        }
        float max_move = 0.0f, second_move = 0.0f;
        int max_j = -1;
        for (int j = 0; j < k; ++j) {
            move[j] = std::sqrt(squared_distance(centres[j], next[j]));
            if (move[j] > max_move) {
                second_move = max_move;
                max_move = move[j];
                max_j = j;
            } else if (move[j] > second_move) {
                second_move = move[j];
            }
        }
        centres.swap(next);
        if (max_move <= tol) break;

        // Assignment step. Hamerly's bounds skip colours that provably keep their centre;
        // the rest search outwards from their current centre.
        const NeighbourIndex index(centres);
        std::size_t changed = 0;
        for (std::size_t i = 0; i < n; ++i) {
            const int a = assign[i];
            upper[i] += move[a];
            lower[i] -= a == max_j ? second_move : max_move;
            const float bound = std::max(index.half_gap(a), lower[i]);
            if (upper[i] + kBoundSlack <= bound) continue;
            upper[i] = std::sqrt(squared_distance(points[i], centres[a]));
            if (upper[i] + kBoundSlack <= bound) continue;
            const Nearest near = index.search(points[i], a);
            upper[i] = near.best;
            lower[i] = near.second;
            if (near.index != a) {
                sums.add(a, hist.colors[i], hist.counts[i], -1);
                sums.add(near.index, hist.colors[i], hist.counts[i], +1);
                assign[i] = near.index;
                ++changed;
            }
        }
        if (changed == 0) break;
    }

    double inertia = 0.0;
    for (std::size_t i = 0; i < n; ++i) {
        inertia += static_cast<double>(hist.counts[i]) *
                   static_cast<double>(squared_distance(points[i], centres[assign[i]]));
    }
    return {std::move(centres), std::move(assign), std::move(sums.weight), inertia, iterations};
}

}  // namespace quantcli
