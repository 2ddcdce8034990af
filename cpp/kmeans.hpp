// Stage 3: weighted Lloyd k-means, with Hamerly's bounds.
#pragma once

#include <cstdint>
#include <vector>

#include "histogram.hpp"
#include "nearest.hpp"

namespace quantcli {

struct KMeansResult {
    std::vector<Point4> centres;
    std::vector<std::int32_t> assignment;  // centre of each point
    std::vector<double> sizes;             // total weight per centre
    double inertia;                        // weighted sum of squared distances
    int iterations;                        // centre updates performed
};

// Lloyd's algorithm on weighted points. On a histogram (each colour weighted by its
// pixel count) this gives exactly the result of plain k-means over all pixels. Hamerly's
// upper and lower bounds skip most points after the first iterations, and the others
// search outwards from their centre (NeighbourIndex).
//
// The first `n_fixed` centres never move (the shared transparent entry). A centre left
// with no point is moved onto the point farthest from its own centre, among clusters of
// two or more points, so the result keeps all `init.size()` centres.
// Stops after `max_iter` updates, when an update moved no centre or lowered the inertia
// by no more than `tol` times itself (tol 0: never on that ground), or when an
// assignment pass changed nothing. `guess`, when given, holds
// a nearby centre for each point, which makes the first assignment cheap.
// `threads` (0: all cores) never changes the result.
KMeansResult kmeans(const WeightedPoints& data, std::vector<Point4> init, int n_fixed, int max_iter,
                    double tol, const std::vector<std::int32_t>* guess = nullptr, int threads = 1);

// Nearest centre of every point (lowest index among equals). `guess`, when given, holds
// a nearby centre per point, which makes each search short.
std::vector<std::int32_t> assign_nearest(const WeightedPoints& data, const std::vector<Point4>& centres,
                                         const std::vector<std::int32_t>* guess = nullptr, int threads = 1);

}  // namespace quantcli
