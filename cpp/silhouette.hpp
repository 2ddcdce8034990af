// Silhouette scores of a clustering of colours: how well each pixel sits in its cluster.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "histogram.hpp"
#include "nearest.hpp"

namespace quantcli {

// Mean silhouette over all pixels with the squared Euclidean distance in RGBA space,
// exactly as Spark's ClusteringEvaluator defines it (distanceMeasure "squaredEuclidean",
// every pixel a row of weight 1). For a pixel x in cluster A, with D(x, C) the mean of
// |x - y|^2 over the pixels y of cluster C (x itself included when it is in C):
//   a = D(x, A) * |A| / (|A| - 1)      the mean over the *other* pixels of A,
//   b = min over non-empty C != A of D(x, C),
//   s = 1 - a / b if a < b, b / a - 1 if a > b, 0 if a == b, and 0 when |A| == 1.
// Each cluster keeps its pixel count, channel sums and sum of squared norms, so
// |C| * D(x, C) = |C| |x|^2 - 2 x.sum_C + sumsq_C is an exact integer (held in doubles,
// exact below 2^53, i.e. for up to about 3e10 pixels); the cost is O(colours x k).
// `labels[i]`, from 0 to n_clusters - 1, is the cluster of histogram colour i. Returns
// NaN when fewer than two clusters have pixels (Spark refuses that case).
double squared_silhouette(const Histogram& hist, const std::vector<std::int32_t>& labels,
                          int n_clusters);

// The classic silhouette (Rousseeuw 1987; scikit-learn's silhouette_score) with the
// Euclidean distance, over the samples that `samples.points` stand for: a point of
// weight w (a whole number >= 1) is w samples at distance 0 from each other. For a
// sample x in cluster A:
//   a = sum of |x - y| over the other samples y of A, divided by (|A| - 1),
//   b = min over non-empty C != A of the mean of |x - y| over the samples of C,
//   s = (b - a) / max(a, b), and 0 when |A| == 1.
// Returns the mean of s over all samples for each labelling in `labellings` (each gives a
// cluster from 0 to n_clusters[l] - 1 per point), or NaN where fewer than two clusters
// are non-empty. The pairwise distances are computed once and shared by every
// labelling: O(points^2 x (1 + labellings)). Rows are split among `threads` threads
// (0: all cores) in fixed blocks reduced in order, so the result does not depend on it.
std::vector<double> euclidean_silhouettes(const WeightedPoints& samples,
                                          const std::vector<std::vector<std::int32_t>>& labellings,
                                          const std::vector<int>& n_clusters, int threads);

// Draws min(n, total pixels) pixels without replacement, uniformly, from the image the
// histogram counts (Floyd's algorithm on pixel ordinals, splitmix64 from `seed`). Returns
// the histogram colour of each drawn pixel, in increasing order.
std::vector<std::uint32_t> sample_pixels(const Histogram& hist, std::size_t n, std::uint64_t seed);

}  // namespace quantcli
