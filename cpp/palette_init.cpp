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
inline int bucket(float v) {
    return std::clamp(static_cast<int>(v), 0, 255);
}

// A point of the median cut, kept together so partitions move contiguous records.
struct Item {
    Point4 p;
    double weight;
    std::uint32_t index;  // into the input points
};

// A box of the median cut: a range of items with its moments.
struct Box {
    std::size_t begin, end;
    double weight = 0.0;
    std::array<double, 4> sum{}, sq{};

    double variance(int ch) const { return sq[ch] - sum[ch] * sum[ch] / weight; }
    // Weighted sum of squared distances to the box mean; 0 when it cannot be split.
    double error() const {
        if (end - begin < 2) return 0.0;
        double e = 0.0;
        for (int ch = 0; ch < 4; ++ch) e += variance(ch);
        return e > 0.0 ? e : 0.0;
    }
};

Box measure(const std::vector<Item>& items, std::size_t begin, std::size_t end) {
    Box box{begin, end};
    for (std::size_t i = begin; i < end; ++i) {
        const Item& it = items[i];
        box.weight += it.weight;
        for (int ch = 0; ch < 4; ++ch) {
            const double v = it.p.c[ch];
            box.sum[ch] += it.weight * v;
            box.sq[ch] += it.weight * v * v;
        }
    }
    return box;
}

// The other part of `whole` once `part` is known: moments subtract.
Box remainder(const Box& whole, const Box& part, std::size_t begin, std::size_t end) {
    Box box{begin, end, whole.weight - part.weight};
    for (int ch = 0; ch < 4; ++ch) {
        box.sum[ch] = whole.sum[ch] - part.sum[ch];
        box.sq[ch] = whole.sq[ch] - part.sq[ch];
    }
    return box;
}

// Splits `box` along its channel of largest variance (the next one if all its points
// share one bucket there), at the bucket threshold that minimises the two halves' squared
// error along that channel. Returns where the upper half begins, or box.end.
std::size_t split(std::vector<Item>& items, const Box& box) {
    std::array<int, 4> axes = {0, 1, 2, 3};
    std::sort(axes.begin(), axes.end(), [&](int a, int b) {
        return box.variance(a) > box.variance(b) || (box.variance(a) == box.variance(b) && a < b);
    });
    for (int axis : axes) {
        std::array<double, 256> w{}, s{}, q{};
        for (std::size_t i = box.begin; i < box.end; ++i) {
            const float v = items[i].p.c[axis];
            const int b = bucket(v);
            w[b] += items[i].weight;
            s[b] += items[i].weight * v;
            q[b] += items[i].weight * v * v;
        }
        double lw = 0, ls = 0, lq = 0, tw = 0, ts = 0, tq = 0;
        for (int v = 0; v < 256; ++v) tw += w[v], ts += s[v], tq += q[v];
        int best_t = -1;
        double best_err = 0.0;
        for (int t = 0; t < 255; ++t) {
            lw += w[t], ls += s[t], lq += q[t];
            const double uw = tw - lw;
            if (lw <= 0.0 || uw <= 0.0) continue;
            const double err = (lq - ls * ls / lw) + ((tq - lq) - (ts - ls) * (ts - ls) / uw);
            if (best_t < 0 || err < best_err) best_err = err, best_t = t;
        }
        if (best_t < 0) continue;
        auto upper = std::partition(items.begin() + static_cast<std::ptrdiff_t>(box.begin),
                                    items.begin() + static_cast<std::ptrdiff_t>(box.end),
                                    [&](const Item& it) { return bucket(it.p.c[axis]) <= best_t; });
        return static_cast<std::size_t>(upper - items.begin());
    }
    return box.end;
}

}  // namespace

std::vector<Point4> median_cut_init(const WeightedPoints& data, int k, const std::vector<Point4>& fixed,
                                    std::vector<std::int32_t>* box_of) {
    std::vector<Item> items;
    items.reserve(data.size());
    if (box_of) box_of->assign(data.size(), 0);
    for (std::uint32_t i = 0; i < data.size(); ++i) {
        if (!is_fixed(data.points[i], fixed)) items.push_back({data.points[i], data.weights[i], i});
    }
    const int wanted = k - static_cast<int>(fixed.size());
    std::vector<Box> boxes{measure(items, 0, items.size())};
    std::vector<double> errors{boxes[0].error()};
    while (static_cast<int>(boxes.size()) < wanted) {
        // The first box with the largest error, so ties resolve the same way everywhere.
        const std::size_t worst =
            static_cast<std::size_t>(std::max_element(errors.begin(), errors.end()) - errors.begin());
        if (errors[worst] <= 0.0) break;
        const Box box = boxes[worst];
        const std::size_t mid = split(items, box);
        if (mid == box.end) {
            errors[worst] = 0.0;  // points too close to separate by bucket
            continue;
        }
        // Measure the smaller half; the other follows by subtraction.
        Box lower, upper;
        if (mid - box.begin <= box.end - mid) {
            lower = measure(items, box.begin, mid);
            upper = remainder(box, lower, mid, box.end);
        } else {
            upper = measure(items, mid, box.end);
            lower = remainder(box, upper, box.begin, mid);
        }
        boxes[worst] = lower;
        errors[worst] = lower.error();
        boxes.push_back(upper);
        errors.push_back(upper.error());
    }
    std::vector<Point4> centres = fixed;
    for (const Box& box : boxes) {
        Point4 p;
        for (int ch = 0; ch < 4; ++ch) p.c[ch] = static_cast<float>(box.sum[ch] / box.weight);
        if (box_of) {
            const auto centre = static_cast<std::int32_t>(centres.size());
            for (std::size_t i = box.begin; i < box.end; ++i) (*box_of)[items[i].index] = centre;
        }
        centres.push_back(p);
    }
    // Points packed closer than the buckets can split: top up with the points farthest
    // from the centres so far, so there are k centres.
    while (static_cast<int>(centres.size()) < k) {
        std::size_t far = 0;
        float far_d = -1.0f;
        for (const Item& it : items) {
            float d = std::numeric_limits<float>::infinity();
            for (const Point4& c : centres) d = std::min(d, squared_distance(it.p, c));
            if (d > far_d) far_d = d, far = it.index;
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
