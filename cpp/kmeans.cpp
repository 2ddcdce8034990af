#include "kmeans.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

#include "parallel.hpp"

namespace quantcli {
namespace {

// Slack for float rounding in the bound tests: a point is skipped only when its bounds
// prove the assignment with this much to spare.
constexpr float kBoundSlack = 1.0e-3f;

// Points per block of the parallel loops.
constexpr std::size_t kBlock = 8192;

// Per-cluster weighted sums. On histograms every term is an integer times an integer
// count, so the double sums are exact and independent of the order of updates.
struct ClusterSums {
    std::vector<std::array<double, 4>> sum;
    std::vector<double> weight;
    std::vector<double> norm;  // weighted sum of squared norms, for the inertia
    std::vector<std::uint32_t> members;

    explicit ClusterSums(int k)
        : sum(k, std::array<double, 4>{}), weight(k, 0.0), norm(k, 0.0), members(k, 0) {}

    void add(int j, const Point4& p, double w) {
        for (int ch = 0; ch < 4; ++ch) sum[j][ch] += w * p.c[ch];
        weight[j] += w;
        norm[j] += w * squared_norm(p);
        ++members[j];
    }
    void remove(int j, const Point4& p, double w) {
        for (int ch = 0; ch < 4; ++ch) sum[j][ch] -= w * p.c[ch];
        weight[j] -= w;
        norm[j] -= w * squared_norm(p);
        --members[j];
    }
    // Inertia of the current assignment with every free centre at its cluster mean:
    // sum over clusters of norm - |sum|^2 / weight, no pass over the points needed.
    double inertia_at_means(const std::vector<Point4>& centres, int n_fixed) const {
        double total = 0.0;
        for (std::size_t j = 0; j < weight.size(); ++j) {
            if (members[j] == 0) continue;
            if (static_cast<int>(j) < n_fixed) {  // a fixed centre is not at its mean
                double cross = 0.0;
                for (int ch = 0; ch < 4; ++ch) cross += sum[j][ch] * centres[j].c[ch];
                total += norm[j] - 2.0 * cross + weight[j] * squared_norm(centres[j]);
                continue;
            }
            double s2 = 0.0;
            for (int ch = 0; ch < 4; ++ch) s2 += sum[j][ch] * sum[j][ch];
            total += norm[j] - s2 / weight[j];
        }
        return total;
    }

    static double squared_norm(const Point4& p) {
        double n = 0.0;
        for (int ch = 0; ch < 4; ++ch) n += static_cast<double>(p.c[ch]) * p.c[ch];
        return n;
    }
    Point4 mean(int j) const {
        Point4 p;
        for (int ch = 0; ch < 4; ++ch) p.c[ch] = static_cast<float>(sum[j][ch] / weight[j]);
        return p;
    }
};

}  // namespace

std::vector<std::int32_t> assign_nearest(const WeightedPoints& data, const std::vector<Point4>& centres,
                                         const std::vector<std::int32_t>* guess, int threads) {
    const std::size_t n = data.size();
    std::vector<std::int32_t> out(n);
    const NeighbourIndex index(centres);
    const CentreSet set(centres);
    parallel_for(block_count(n, kBlock), threads, [&](std::size_t b) {
        for (std::size_t i = b * kBlock; i < std::min(n, (b + 1) * kBlock); ++i) {
            out[i] =
                guess ? index.search(data.points[i], (*guess)[i]).index : set.nearest(data.points[i]).index;
        }
    });
    return out;
}

KMeansResult kmeans(const WeightedPoints& data, std::vector<Point4> centres, int n_fixed, int max_iter,
                    double tol, const std::vector<std::int32_t>* guess, int threads) {
    const std::size_t n = data.size();
    const int k = static_cast<int>(centres.size());
    const std::vector<Point4>& points = data.points;
    const std::vector<double>& weights = data.weights;

    std::vector<std::int32_t> assign(n);
    std::vector<float> upper(n), lower(n);
    ClusterSums sums(k);
    NeighbourIndex index(centres);
    const std::size_t blocks = block_count(n, kBlock);
    {
        const CentreSet set(centres);
        parallel_for(blocks, threads, [&](std::size_t b) {
            for (std::size_t i = b * kBlock; i < std::min(n, (b + 1) * kBlock); ++i) {
                Nearest near;
                if (guess) {
                    near = index.search(points[i], (*guess)[i]);
                } else {
                    near = set.nearest(points[i]);
                    near.best = std::sqrt(near.best);
                    near.second = std::sqrt(near.second);
                }
                assign[i] = near.index;
                upper[i] = near.best;
                lower[i] = near.second;
            }
        });
        for (std::size_t i = 0; i < n; ++i) sums.add(assign[i], points[i], weights[i]);
    }
    // Per block, the points that changed centre and their previous one.
    std::vector<std::vector<std::pair<std::uint32_t, std::int32_t>>> moved(blocks);

    std::vector<float> move(k);
    int iterations = 0;
    double last_inertia = std::numeric_limits<double>::infinity();
    while (iterations < max_iter) {
        ++iterations;
        // Update step: every free centre to the mean of its points.
        std::vector<Point4> next = centres;
        for (int j = n_fixed; j < k; ++j) {
            if (sums.members[j] > 0) next[j] = sums.mean(j);
        }
        // Re-seed empty centres on the worst-fitting point.
        for (int j = n_fixed; j < k; ++j) {
            if (sums.members[j] > 0) continue;
            std::size_t worst = n;
            float worst_d = -1.0f;
            for (std::size_t i = 0; i < n; ++i) {
                if (sums.members[assign[i]] < 2) continue;
                const float d = squared_distance(points[i], next[assign[i]]);
                if (d > worst_d) worst_d = d, worst = i;
            }
            if (worst == n) break;  // fewer points than centres: the caller prevents this
            const int from = assign[worst];
            sums.remove(from, points[worst], weights[worst]);
            sums.add(j, points[worst], weights[worst]);
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
        // Converged: nothing moved, or the inertia fell by less than `tol` of itself.
        if (max_move == 0.0f) break;
        const double inertia = sums.inertia_at_means(centres, n_fixed);
        if (tol > 0.0 && last_inertia - inertia <= tol * inertia) break;
        last_inertia = inertia;

        // Assignment step. Hamerly's bounds skip points that provably keep their centre;
        // the rest search outwards from their current centre.
        index.update(centres);
        parallel_for(blocks, threads, [&](std::size_t b) {
            moved[b].clear();
            for (std::size_t i = b * kBlock; i < std::min(n, (b + 1) * kBlock); ++i) {
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
                    assign[i] = near.index;
                    moved[b].emplace_back(static_cast<std::uint32_t>(i), a);
                }
            }
        });
        // The sums change in point order, exactly as a serial pass would change them.
        std::size_t changed = 0;
        for (const auto& block : moved) {
            for (const auto& [i, from] : block) {
                sums.remove(from, points[i], weights[i]);
                sums.add(assign[i], points[i], weights[i]);
            }
            changed += block.size();
        }
        if (changed == 0) break;
    }

    double inertia = 0.0;
    for (std::size_t i = 0; i < n; ++i) {
        inertia += weights[i] * static_cast<double>(squared_distance(points[i], centres[assign[i]]));
    }
    return {std::move(centres), std::move(assign), std::move(sums.weight), inertia, iterations};
}

}  // namespace quantcli
