// Stage 3: weighted Lloyd k-means on the histogram, with Hamerly's bounds.
#pragma once

#include <cstdint>
#include <vector>

#include "histogram.hpp"
#include "nearest.hpp"

namespace quantcli {

struct KMeansResult {
    std::vector<Point4> centres;
    std::vector<std::int32_t> assignment;  // centre of each histogram colour
    std::vector<std::uint64_t> sizes;      // pixels per centre
    double inertia;                        // sum over pixels of the squared distance
    int iterations;                        // centre updates performed
};

// Lloyd's algorithm where each histogram colour is a point weighted by its pixel count,
// which gives exactly the result of plain k-means over all pixels. Hamerly's upper and
// lower bounds skip most nearest-centre searches after the first iterations.
//
// The first `n_fixed` centres never move (the shared transparent entry). A centre left
// with no colour is moved onto the colour farthest from its own centre, among clusters
// of two or more colours, so the result keeps all `init.size()` centres.
// Stops after `max_iter` updates, when no centre moved more than `tol` (in 0..255
// colour units), or when an assignment pass changed nothing.
KMeansResult kmeans(const Histogram& hist, std::vector<Point4> init, int n_fixed, int max_iter,
                    double tol);

// Assigns every histogram colour to its nearest centre (lowest index among equals).
// `guess`, when given, holds a nearby centre per colour (a previous assignment), which
// makes each search short.
std::vector<std::int32_t> assign_nearest(const Histogram& hist, const std::vector<Point4>& centres,
                                         const std::vector<std::int32_t>* guess = nullptr);

}  // namespace quantcli
