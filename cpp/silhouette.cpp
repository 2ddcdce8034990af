#include "silhouette.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <unordered_set>

#include "palette_init.hpp"
#include "parallel.hpp"

namespace quantcli {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

// Rows of the pairwise-distance pass handed to one task; fixed, so the reduction order
// never depends on the thread count.
constexpr std::size_t kRowChunk = 64;

// The silhouette of one sample from its own-cluster mean `a` and nearest-other mean `b`,
// written as scikit-learn writes it.
inline double silhouette_of(double a, double b) {
    const double m = std::max(a, b);
    return m > 0.0 ? (b - a) / m : 0.0;
}

// wd[j] = w[j] * |p_i - p_j| for every point j. Built for AVX2 and for the baseline on
// x86-64; sqrt is correctly rounded and contraction is off, so both give the same bits.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("avx2", "default")))
#endif
void weighted_distances(const double* x0, const double* x1, const double* x2, const double* x3,
                        const double* w, std::size_t n, std::size_t i, double* wd) {
    const double p0 = x0[i], p1 = x1[i], p2 = x2[i], p3 = x3[i];
    for (std::size_t j = 0; j < n; ++j) {
        const double d0 = p0 - x0[j], d1 = p1 - x1[j], d2 = p2 - x2[j], d3 = p3 - x3[j];
        wd[j] = w[j] * std::sqrt(((d0 * d0 + d1 * d1) + d2 * d2) + d3 * d3);
    }
}

// Sum of values[order[r]] for r in [begin, end), with four running sums so the adds
// overlap; always in the same order.
inline double gather_sum(const double* values, const std::uint32_t* order, std::size_t begin,
                         std::size_t end) {
    double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
    std::size_t r = begin;
    for (; r + 4 <= end; r += 4) {
        s0 += values[order[r]];
        s1 += values[order[r + 1]];
        s2 += values[order[r + 2]];
        s3 += values[order[r + 3]];
    }
    for (; r < end; ++r) s0 += values[order[r]];
    return (s0 + s1) + (s2 + s3);
}

// One labelling of the sample points, with its non-empty clusters numbered 0..m-1 and
// the points listed cluster by cluster.
struct Clustering {
    int m = 0;
    std::vector<std::int32_t> cluster_of;  // compact cluster of each point
    std::vector<std::uint32_t> order;      // points, cluster 0 first
    std::vector<std::size_t> start;        // cluster c holds order[start[c] .. start[c + 1])
    std::vector<double> size;              // samples in each cluster

    Clustering(const std::vector<std::int32_t>& labels, int n_clusters, const std::vector<double>& weights) {
        std::vector<std::int32_t> compact(n_clusters, -1);
        for (std::int32_t label : labels) {
            if (compact[label] < 0) compact[label] = 0;
        }
        for (std::int32_t& c : compact) {
            if (c == 0) c = m++;
        }
        cluster_of.resize(labels.size());
        start.assign(m + 1, 0);
        size.assign(m, 0.0);
        for (std::size_t i = 0; i < labels.size(); ++i) {
            cluster_of[i] = compact[labels[i]];
            ++start[cluster_of[i] + 1];
            size[cluster_of[i]] += weights[i];
        }
        for (int c = 0; c < m; ++c) start[c + 1] += start[c];
        order.resize(labels.size());
        std::vector<std::size_t> fill(start.begin(), start.end() - 1);
        for (std::size_t i = 0; i < labels.size(); ++i) {
            order[fill[cluster_of[i]]++] = static_cast<std::uint32_t>(i);
        }
    }
};

// Uniform in [0, bound) by rejection, so every value is exactly equally likely.
std::uint64_t uniform_below(SplitMix64& rng, std::uint64_t bound) {
    const std::uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
    std::uint64_t x = rng.next();
    while (x >= limit) x = rng.next();
    return x % bound;
}

}  // namespace

double squared_silhouette(const Histogram& hist, const std::vector<std::int32_t>& labels,
                          int n_clusters) {
    // Exact integer statistics per cluster: pixels, channel sums, sum of squared norms.
    std::vector<std::uint64_t> count(n_clusters, 0), sumsq(n_clusters, 0);
    std::vector<std::array<std::uint64_t, 4>> sum(n_clusters, {0, 0, 0, 0});
    for (std::size_t i = 0; i < hist.size(); ++i) {
        const std::int32_t l = labels[i];
        const std::uint64_t c = hist.counts[i];
        std::uint64_t norm = 0;
        for (int ch = 0; ch < 4; ++ch) {
            const std::uint64_t v = key_channel(hist.colors[i], ch);
            sum[l][ch] += c * v;
            norm += v * v;
        }
        count[l] += c;
        sumsq[l] += c * norm;
    }
    // The non-empty clusters, channel by channel, as doubles (exact below 2^53).
    std::vector<std::int32_t> compact(n_clusters, -1);
    std::vector<double> n, s0, s1, s2, s3, q;
    for (int l = 0; l < n_clusters; ++l) {
        if (count[l] == 0) continue;
        compact[l] = static_cast<std::int32_t>(n.size());
        n.push_back(static_cast<double>(count[l]));
        s0.push_back(static_cast<double>(sum[l][0]));
        s1.push_back(static_cast<double>(sum[l][1]));
        s2.push_back(static_cast<double>(sum[l][2]));
        s3.push_back(static_cast<double>(sum[l][3]));
        q.push_back(static_cast<double>(sumsq[l]));
    }
    const std::size_t m = n.size();
    if (m < 2) return kNaN;

    std::vector<double> t(m);  // t[j] = sum over the pixels y of cluster j of |x - y|^2
    double total = 0.0, pixels = 0.0;
    for (std::size_t i = 0; i < hist.size(); ++i) {
        const double c = static_cast<double>(hist.counts[i]);
        pixels += c;
        const std::size_t own = static_cast<std::size_t>(compact[labels[i]]);
        if (n[own] == 1.0) continue;  // a pixel alone in its cluster scores 0, as in Spark
        const ColorKey key = hist.colors[i];
        const double x0 = key_channel(key, 0), x1 = key_channel(key, 1), x2 = key_channel(key, 2),
                     x3 = key_channel(key, 3);
        const double xx = ((x0 * x0 + x1 * x1) + x2 * x2) + x3 * x3;
        for (std::size_t j = 0; j < m; ++j) {
            t[j] = n[j] * xx - 2.0 * (((x0 * s0[j] + x1 * s1[j]) + x2 * s2[j]) + x3 * s3[j]) + q[j];
        }
        const double a = t[own] / (n[own] - 1.0);
        double b = kInf;
        for (std::size_t j = 0; j < m; ++j) {
            if (j != own) b = std::min(b, t[j] / n[j]);
        }
        const double s = a < b ? 1.0 - a / b : (a > b ? b / a - 1.0 : 0.0);
        total += c * s;
    }
    return total / pixels;
}

std::vector<double> euclidean_silhouettes(const WeightedPoints& samples,
                                          const std::vector<std::vector<std::int32_t>>& labellings,
                                          const std::vector<int>& n_clusters, int threads) {
    const std::size_t u = samples.points.size();
    const std::size_t n_lab = labellings.size();
    std::vector<double> x[4], w(u);
    double total_weight = 0.0;
    for (int ch = 0; ch < 4; ++ch) x[ch].resize(u);
    for (std::size_t i = 0; i < u; ++i) {
        for (int ch = 0; ch < 4; ++ch) x[ch][i] = samples.points[i].c[ch];
        w[i] = samples.weights[i];
        total_weight += w[i];
    }
    std::vector<Clustering> clusterings;
    clusterings.reserve(n_lab);
    int max_m = 0;
    for (std::size_t l = 0; l < n_lab; ++l) {
        clusterings.emplace_back(labellings[l], n_clusters[l], samples.weights);
        max_m = std::max(max_m, clusterings.back().m);
    }

    const std::size_t chunks = block_count(u, kRowChunk);
    std::vector<double> partial(chunks * n_lab, 0.0);  // sum of w * s per chunk and labelling
    parallel_for(chunks, resolve_threads(threads), [&](std::size_t chunk) {
        std::vector<double> wd(u), mean(max_m);
        const std::size_t end = std::min(u, (chunk + 1) * kRowChunk);
        for (std::size_t i = chunk * kRowChunk; i < end; ++i) {
            weighted_distances(x[0].data(), x[1].data(), x[2].data(), x[3].data(), w.data(), u, i,
                               wd.data());
            for (std::size_t l = 0; l < n_lab; ++l) {
                const Clustering& cl = clusterings[l];
                if (cl.m < 2) continue;
                const std::size_t own = static_cast<std::size_t>(cl.cluster_of[i]);
                if (cl.size[own] == 1.0) continue;  // a sample alone in its cluster scores 0
                for (int c = 0; c < cl.m; ++c) {
                    mean[c] = gather_sum(wd.data(), cl.order.data(), cl.start[c], cl.start[c + 1]);
                }
                const double a = mean[own] / (cl.size[own] - 1.0);
                double b = kInf;
                for (std::size_t c = 0; c < static_cast<std::size_t>(cl.m); ++c) {
                    if (c != own) b = std::min(b, mean[c] / cl.size[c]);
                }
                partial[chunk * n_lab + l] += w[i] * silhouette_of(a, b);
            }
        }
    });

    std::vector<double> out(n_lab);
    for (std::size_t l = 0; l < n_lab; ++l) {
        if (clusterings[l].m < 2) {
            out[l] = kNaN;
            continue;
        }
        double s = 0.0;
        for (std::size_t chunk = 0; chunk < chunks; ++chunk) s += partial[chunk * n_lab + l];
        out[l] = s / total_weight;
    }
    return out;
}

std::vector<std::uint32_t> sample_pixels(const Histogram& hist, std::size_t n, std::uint64_t seed) {
    const std::uint64_t total = hist.total();
    std::vector<std::uint32_t> out;
    if (n >= total) {
        out.reserve(total);
        for (std::size_t i = 0; i < hist.size(); ++i) out.insert(out.end(), hist.counts[i], static_cast<std::uint32_t>(i));
        return out;
    }
    // Floyd's algorithm: n distinct pixel ordinals in [0, total), each set equally likely.
    SplitMix64 rng(seed);
    std::unordered_set<std::uint64_t> chosen;
    chosen.reserve(2 * n);
    std::vector<std::uint64_t> ordinals;
    ordinals.reserve(n);
    for (std::uint64_t j = total - n; j < total; ++j) {
        const std::uint64_t t = uniform_below(rng, j + 1);
        const std::uint64_t pick = chosen.insert(t).second ? t : j;
        if (pick == j) chosen.insert(j);
        ordinals.push_back(pick);
    }
    std::sort(ordinals.begin(), ordinals.end());
    // Pixel ordinal p belongs to the colour whose cumulative count first exceeds p.
    out.reserve(n);
    std::size_t colour = 0;
    std::uint64_t end = hist.counts[0];
    for (std::uint64_t p : ordinals) {
        while (p >= end) end += hist.counts[++colour];
        out.push_back(static_cast<std::uint32_t>(colour));
    }
    return out;
}

}  // namespace quantcli
