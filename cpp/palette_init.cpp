#include "palette_init.hpp"

#include <algorithm>
#include <array>
#include <limits>

namespace quantcli {
namespace {

bool is_fixed(const Point4& p, const std::vector<Point4>& fixed) {
    for (const Point4& f : fixed) {
        if (squared_distance(p, f) == 0.0f) return true;
    }
    return false;
}

// The 0..255 bucket of a channel value, for the split search.
inline int bucket(float v) { return std::clamp(static_cast<int>(v), 0, 255); }

// A box of the median cut: a range of `order` (indices into the points) with the moments
// needed for its mean and squared error.
struct Box {
    std::size_t begin, end;
    double weight;
    std::array<double, 4> sum;
    double error;  // weighted sum of squared distances to the box mean
};

Box make_box(const WeightedPoints& data, const std::vector<std::uint32_t>& order,
             std::size_t begin, std::size_t end) {
    Box box{begin, end, 0.0, {}, 0.0};
    std::array<double, 4> sq{};
    for (std::size_t i = begin; i < end; ++i) {
        const Point4& p = data.points[order[i]];
        const double w = data.weights[order[i]];
        box.weight += w;
        for (int ch = 0; ch < 4; ++ch) {
            const double v = p.c[ch];
            box.sum[ch] += w * v;
            sq[ch] += w * v * v;
        }
    }
    for (int ch = 0; ch < 4; ++ch) box.error += sq[ch] - box.sum[ch] * box.sum[ch] / box.weight;
    if (end - begin < 2 || box.error < 0.0) box.error = 0.0;  // one point cannot be split
    return box;
}

// Splits `box` along the channel with the largest variance, at the bucket threshold that
// minimises the summed squared error of the halves along that channel. Returns the index
// in `order` where the upper half begins, or box.end if no threshold separates points.
std::size_t split_box(const WeightedPoints& data, std::vector<std::uint32_t>& order,
                      const Box& box) {
    std::array<std::array<double, 256>, 4> w{}, s{}, q{};
    for (std::size_t i = box.begin; i < box.end; ++i) {
        const Point4& p = data.points[order[i]];
        const double pw = data.weights[order[i]];
        for (int ch = 0; ch < 4; ++ch) {
            const int b = bucket(p.c[ch]);
            const double v = p.c[ch];
            w[ch][b] += pw;
            s[ch][b] += pw * v;
            q[ch][b] += pw * v * v;
        }
    }
    // Channels by decreasing variance: the first one with two occupied buckets is cut.
    std::array<std::pair<double, int>, 4> by_var;
    for (int ch = 0; ch < 4; ++ch) {
        double sw = 0, ss = 0, sq = 0;
        for (int v = 0; v < 256; ++v) sw += w[ch][v], ss += s[ch][v], sq += q[ch][v];
        by_var[ch] = {-(sq - ss * ss / sw), ch};
    }
    std::sort(by_var.begin(), by_var.end());
    for (const auto& [neg_var, axis] : by_var) {
        double lw = 0, ls = 0, lq = 0, tw = 0, ts = 0, tq = 0;
        for (int v = 0; v < 256; ++v) tw += w[axis][v], ts += s[axis][v], tq += q[axis][v];
        int best_t = -1;
        double best_err = 0.0;
        for (int t = 0; t < 255; ++t) {
            lw += w[axis][t], ls += s[axis][t], lq += q[axis][t];
            const double uw = tw - lw;
            if (lw <= 0.0 || uw <= 0.0) continue;
            const double err = (lq - ls * ls / lw) + ((tq - lq) - (ts - ls) * (ts - ls) / uw);
            if (best_t < 0 || err < best_err) best_err = err, best_t = t;
        }
        if (best_t < 0) continue;
        auto upper = std::partition(order.begin() + static_cast<std::ptrdiff_t>(box.begin),
                                    order.begin() + static_cast<std::ptrdiff_t>(box.end),
                                    [&](std::uint32_t idx) {
                                        return bucket(data.points[idx].c[axis]) <= best_t;
                                    });
        return static_cast<std::size_t>(upper - order.begin());
    }
    return box.end;
}

}  // namespace

std::vector<Point4> median_cut_init(const WeightedPoints& data, int k,
                                    const std::vector<Point4>& fixed,
                                    std::vector<std::int32_t>* box_of) {
    std::vector<std::uint32_t> order;
    order.reserve(data.size());
    if (box_of) box_of->assign(data.size(), 0);
    for (std::uint32_t i = 0; i < data.size(); ++i) {
        if (!is_fixed(data.points[i], fixed)) order.push_back(i);
    }
    const int wanted = k - static_cast<int>(fixed.size());
    std::vector<Box> boxes{make_box(data, order, 0, order.size())};
    while (static_cast<int>(boxes.size()) < wanted) {
        // The first box with the largest error, so ties resolve the same way everywhere.
        std::size_t worst = 0;
        for (std::size_t b = 1; b < boxes.size(); ++b) {
            if (boxes[b].error > boxes[worst].error) worst = b;
        }
        if (boxes[worst].error <= 0.0) break;
        const Box box = boxes[worst];
        const std::size_t mid = split_box(data, order, box);
        if (mid == box.end) {
            boxes[worst].error = 0.0;  // points too close to separate by bucket
            continue;
        }
        boxes[worst] = make_box(data, order, box.begin, mid);
        boxes.push_back(make_box(data, order, mid, box.end));
    }
    std::vector<Point4> centres = fixed;
    for (const Box& box : boxes) {
        Point4 p;
        for (int ch = 0; ch < 4; ++ch) p.c[ch] = static_cast<float>(box.sum[ch] / box.weight);
        if (box_of) {
            const auto centre = static_cast<std::int32_t>(centres.size());
            for (std::size_t i = box.begin; i < box.end; ++i) (*box_of)[order[i]] = centre;
        }
        centres.push_back(p);
    }
    // Points packed closer than the buckets can split (possible only for coarse points):
    // top up with the points farthest from the centres so far, so there are k centres.
    while (static_cast<int>(centres.size()) < k) {
        std::size_t far = 0;
        float far_d = -1.0f;
        for (std::uint32_t i : order) {
            float d = std::numeric_limits<float>::infinity();
            for (const Point4& c : centres) d = std::min(d, squared_distance(data.points[i], c));
            if (d > far_d) far_d = d, far = i;
        }
        if (far_d <= 0.0f) break;
        centres.push_back(data.points[far]);
    }
    return centres;
}

std::vector<Point4> kmeanspp_init(const WeightedPoints& data, int k, std::uint64_t seed,
                                  const std::vector<Point4>& fixed) {
    const std::size_t n = data.size();
    // Channel-major copies so the distance update below vectorises.
    std::vector<float> ch[4];
    for (auto& c : ch) c.resize(n);
    for (std::size_t i = 0; i < n; ++i) {
        for (int c = 0; c < 4; ++c) ch[c][i] = data.points[i].c[c];
    }
    const std::vector<double>& weight = data.weights;
    std::vector<float> dist(n, std::numeric_limits<float>::infinity());
    std::vector<Point4> centres;
    auto add_centre = [&](const Point4& p) {
        centres.push_back(p);
        for (std::size_t i = 0; i < n; ++i) {
            const float dr = ch[0][i] - p.c[0], dg = ch[1][i] - p.c[1];
            const float db = ch[2][i] - p.c[2], da = ch[3][i] - p.c[3];
            const float d = ((dr * dr + dg * dg) + db * db) + da * da;
            dist[i] = d < dist[i] ? d : dist[i];
        }
    };
    // Picks an index with probability proportional to weight[i] * score(i).
    SplitMix64 rng(seed);
    auto sample = [&](auto score) {
        double total = 0.0;
        for (std::size_t i = 0; i < n; ++i) total += weight[i] * score(i);
        const double target = rng.uniform() * total;
        double acc = 0.0;
        std::size_t last_positive = 0;
        for (std::size_t i = 0; i < n; ++i) {
            const double p = weight[i] * score(i);
            if (p <= 0.0) continue;
            acc += p;
            last_positive = i;
            if (acc > target) return i;
        }
        return last_positive;  // rounding left `target` at the very end
    };

    for (const Point4& f : fixed) add_centre(f);
    if (centres.empty()) add_centre(data.points[sample([](std::size_t) { return 1.0; })]);
    while (static_cast<int>(centres.size()) < k) {
        const std::size_t pick = sample([&](std::size_t i) { return static_cast<double>(dist[i]); });
        add_centre(data.points[pick]);
    }
    return centres;
}

}  // namespace quantcli
