#include "histogram.hpp"

#include <algorithm>
#include <array>
#include <numeric>
#include <utility>

#include "parallel.hpp"

namespace quantcli {
namespace {

// A key no pixel can produce: alpha 0 with a non-zero RGB is always folded into 0.
constexpr ColorKey kEmptySlot = 1;

inline std::size_t slot_of(ColorKey key, int shift) {
    return static_cast<std::size_t>((static_cast<std::uint64_t>(key) * 0x9E3779B97F4A7C15ull) >> shift);
}

// Open addressing with linear probing. Each new colour gets the next id, which stays
// valid when the table grows; ids index `counts`.
class ColorTable {
public:
    // insert() answers kFull instead of adding a colour past `limit` (0: no limit).
    static constexpr std::uint32_t kFull = 0xFFFFFFFFu;

    explicit ColorTable(std::size_t expected, std::size_t limit = 0) : limit_(limit) {
        std::size_t cap = 1024;
        while (cap < 2 * expected) cap *= 2;
        resize(cap);
    }

    std::uint32_t insert(ColorKey key) {
        std::size_t slot = slot_of(key, shift_);
        while (true) {
            const Slot& s = slots_[slot];
            if (s.key == key) {
                ++counts_[s.id];
                return s.id;
            }
            if (s.key == kEmptySlot) break;
            slot = (slot + 1) & mask_;
        }
        if (limit_ != 0 && colors_.size() >= limit_) return kFull;
        const auto id = static_cast<std::uint32_t>(colors_.size());
        slots_[slot] = {key, id};
        colors_.push_back(key);
        counts_.push_back(1);
        if (2 * colors_.size() > slots_.size()) resize(slots_.size() * 2);
        return id;
    }

    // Asks the cache for the slot where `key` would start probing.
    void prefetch(ColorKey key) const { __builtin_prefetch(&slots_[slot_of(key, shift_)]); }

    std::vector<ColorKey>& colors() { return colors_; }
    std::vector<std::uint64_t>& counts() { return counts_; }

private:
    void resize(std::size_t cap) {
        slots_.assign(cap, Slot{kEmptySlot, 0});
        mask_ = cap - 1;
        shift_ = 64;
        for (std::size_t c = cap; c > 1; c >>= 1) --shift_;
        for (std::uint32_t id = 0; id < colors_.size(); ++id) {
            std::size_t slot = slot_of(colors_[id], shift_);
            while (slots_[slot].key != kEmptySlot) slot = (slot + 1) & mask_;
            slots_[slot] = {colors_[id], id};
        }
    }

    struct Slot {
        ColorKey key;
        std::uint32_t id;
    };
    std::vector<Slot> slots_;
    std::vector<ColorKey> colors_;
    std::vector<std::uint64_t> counts_;
    std::size_t mask_ = 0;
    int shift_ = 0;
    std::size_t limit_ = 0;
};

// LSD radix sort of keys, returning the permutation (sorted position -> original id).
// Byte positions where every key agrees (alpha in an RGB image) are skipped.
std::vector<std::uint32_t> radix_order(const std::vector<ColorKey>& keys) {
    const std::size_t n = keys.size();
    std::vector<std::uint32_t> order(n), scratch(n);
    std::iota(order.begin(), order.end(), 0u);
    for (int byte = 0; byte < 4; ++byte) {
        const int shift = 8 * byte;
        std::array<std::size_t, 257> offsets{};
        for (ColorKey k : keys) ++offsets[((k >> shift) & 0xFF) + 1];
        bool one_bucket = false;
        for (std::size_t b = 1; b <= 256; ++b) one_bucket |= offsets[b] == n;
        if (one_bucket) continue;
        for (std::size_t b = 1; b <= 256; ++b) offsets[b] += offsets[b - 1];
        for (std::uint32_t id : order) scratch[offsets[(keys[id] >> shift) & 0xFF]++] = id;
        order.swap(scratch);
    }
    return order;
}

// The cell of a colour on the grid that drops `bits` low bits: of R, G and B, and of alpha
// unless it is 255 (opaque stays opaque); fully transparent stays the transparent key.
// 0 bits: the colour itself.
inline ColorKey cell_of(ColorKey key, int bits) {
    if (bits == 0 || key == kTransparentKey) return key;
    const std::uint32_t byte_mask = (0xFFu << bits) & 0xFFu;
    const std::uint32_t rgb_mask = byte_mask * 0x010101u;
    const std::uint32_t alpha = key >> 24;
    const std::uint32_t cell_alpha = alpha == 255 ? 255 : std::max<std::uint32_t>(alpha & byte_mask, 1);
    return (key & rgb_mask) | (cell_alpha << 24);
}

using ChannelSums = std::vector<std::array<std::uint64_t, 4>>;

// Counts every pixel by its cell (`bits`, see cell_of; 0: its exact colour); with `sums`,
// also sums each cell's channels, so that its entry can be the mean of its pixels.
// `Channels` is a template parameter so the key is built without a branch per pixel.
// False when the table filled up (its limit) before every pixel was counted.
template <int Channels>
bool count_pixels(const std::uint8_t* pixels, std::size_t n, ColorTable& table, std::uint32_t* pixel_color,
                  int bits = 0, ChannelSums* sums = nullptr) {
    // Neighbouring pixels often share a colour: remember the last one to skip the probe.
    ColorKey last_key = kEmptySlot;
    std::uint32_t last_id = 0;
    // The probes are cache misses on big images: prefetch a few pixels ahead.
    constexpr std::size_t kAhead = 16;
    for (std::size_t i = 0; i < n; ++i) {
        if (i + kAhead < n) table.prefetch(cell_of(pixel_key(pixels, i + kAhead, Channels), bits));
        const ColorKey key = pixel_key(pixels, i, Channels);
        if (key == last_key) {
            ++table.counts()[last_id];
        } else {
            last_key = key;
            last_id = table.insert(cell_of(key, bits));
            if (last_id == ColorTable::kFull) return false;
            if (sums && last_id == sums->size()) sums->push_back({0, 0, 0, 0});
        }
        if (sums) {
            for (int ch = 0; ch < 4; ++ch) (*sums)[last_id][ch] += key_channel(key, ch);
        }
        if (pixel_color) pixel_color[i] = last_id;
    }
    return true;
}

// The histogram of `n` pixels on the finest grid with at most `max_colors` cells.
Histogram coarse_histogram(const std::uint8_t* pixels, std::size_t n, int channels, std::uint32_t* ids,
                           std::size_t max_colors) {
    for (int bits = 1;; ++bits) {
        ColorTable table(std::min<std::size_t>(max_colors, n), bits < 8 ? max_colors : 0);
        ChannelSums sums;
        sums.reserve(std::min<std::size_t>(max_colors, n));
        const bool fits = channels == 4 ? count_pixels<4>(pixels, n, table, ids, bits, &sums)
                                        : count_pixels<3>(pixels, n, table, ids, bits, &sums);
        if (!fits) continue;
        // Each cell's entry: its pixels' rounded mean, which lies inside the cell, so the
        // entries are distinct; then sorted by key as the exact histogram is.
        const std::vector<std::uint64_t>& counts = table.counts();
        std::vector<ColorKey> means(counts.size());
        for (std::size_t c = 0; c < counts.size(); ++c) {
            std::uint8_t v[4];
            for (int ch = 0; ch < 4; ++ch) {
                v[ch] = static_cast<std::uint8_t>((sums[c][ch] + counts[c] / 2) / counts[c]);
            }
            means[c] = pack_rgba(v[0], v[1], v[2], v[3]);
        }
        sums = {};
        const std::vector<std::uint32_t> order = radix_order(means);
        Histogram hist;
        hist.dropped_bits = bits;
        hist.colors.resize(order.size());
        hist.counts.resize(order.size());
        std::vector<std::uint32_t> rank(order.size());
        for (std::size_t r = 0; r < order.size(); ++r) {
            hist.colors[r] = means[order[r]];
            hist.counts[r] = counts[order[r]];
            rank[order[r]] = static_cast<std::uint32_t>(r);
        }
        if (ids) {
            for (std::size_t p = 0; p < n; ++p) ids[p] = rank[ids[p]];
        }
        return hist;
    }
}

}  // namespace

std::uint64_t Histogram::total() const {
    return std::accumulate(counts.begin(), counts.end(), std::uint64_t{0});
}

Histogram build_histogram(const std::uint8_t* pixels, std::size_t n, int channels,
                          std::vector<std::uint32_t>* pixel_color, int threads, std::size_t max_colors) {
    if (pixel_color) pixel_color->resize(n);
    std::uint32_t* ids = pixel_color ? pixel_color->data() : nullptr;
    // Each thread counts one stretch of the image in a table of its own, with ids local
    // to that table. The sorted merge below is the same however the image was cut.
    constexpr std::size_t kMinChunk = 1 << 18;
    const std::size_t chunks = std::max<std::size_t>(1, std::min<std::size_t>(threads, n / kMinChunk));
    const std::size_t chunk = (n + chunks - 1) / chunks;
    std::vector<ColorTable> tables;
    tables.reserve(chunks);
    for (std::size_t c = 0; c < chunks; ++c) {
        // Photos have about one new colour per 4 to 10 pixels: sizing for that up front
        // saves the rehashes of a table grown from small.
        // A chunk with more than max_colors colours means the image has more too.
        const std::size_t expected = std::min<std::size_t>(chunk / 8 + 256, std::size_t{1} << 22);
        tables.emplace_back(max_colors ? std::min(expected, max_colors) : expected, max_colors);
    }
    std::vector<std::vector<std::uint32_t>> orders(chunks);
    std::vector<char> complete(chunks, 1);
    parallel_for(chunks, threads, [&](std::size_t c) {
        const std::size_t begin = c * chunk, end = std::min(n, begin + chunk);
        const std::uint8_t* start = pixels + begin * static_cast<std::size_t>(channels);
        std::uint32_t* out = ids ? ids + begin : nullptr;
        complete[c] = channels == 4 ? count_pixels<4>(start, end - begin, tables[c], out)
                                    : count_pixels<3>(start, end - begin, tables[c], out);
        if (complete[c]) orders[c] = radix_order(tables[c].colors());
    });
    if (std::find(complete.begin(), complete.end(), 0) != complete.end()) {
        tables.clear();
        return coarse_histogram(pixels, n, channels, ids, max_colors);
    }

    // Merge the sorted tables; rank[c][local id] is the colour's index in the result.
    Histogram hist;
    std::vector<std::vector<std::uint32_t>> rank(chunks);
    std::vector<std::size_t> head(chunks, 0);
    for (std::size_t c = 0; c < chunks; ++c) rank[c].resize(orders[c].size());
    while (true) {
        bool any = false;
        ColorKey smallest = 0;
        for (std::size_t c = 0; c < chunks; ++c) {
            if (head[c] == orders[c].size()) continue;
            const ColorKey key = tables[c].colors()[orders[c][head[c]]];
            if (!any || key < smallest) smallest = key, any = true;
        }
        if (!any) break;
        const auto r = static_cast<std::uint32_t>(hist.colors.size());
        std::uint64_t count = 0;
        for (std::size_t c = 0; c < chunks; ++c) {
            if (head[c] == orders[c].size()) continue;
            const std::uint32_t id = orders[c][head[c]];
            if (tables[c].colors()[id] != smallest) continue;
            count += tables[c].counts()[id];
            rank[c][id] = r;
            ++head[c];
        }
        hist.colors.push_back(smallest);
        hist.counts.push_back(count);
    }
    if (max_colors != 0 && hist.size() > max_colors) {
        tables.clear();
        return coarse_histogram(pixels, n, channels, ids, max_colors);
    }
    if (ids) {
        parallel_for(chunks, threads, [&](std::size_t c) {
            const std::size_t begin = c * chunk, end = std::min(n, begin + chunk);
            for (std::size_t p = begin; p < end; ++p) ids[p] = rank[c][ids[p]];
        });
    }
    return hist;
}

WeightedPoints to_points(const Histogram& hist) {
    WeightedPoints out;
    out.points.reserve(hist.size());
    out.weights.reserve(hist.size());
    for (std::size_t i = 0; i < hist.size(); ++i) {
        out.points.push_back(point_of(hist.colors[i]));
        out.weights.push_back(static_cast<double>(hist.counts[i]));
    }
    return out;
}

Histogram merge_histograms(const Histogram& a, const Histogram& b) {
    Histogram out;
    out.colors.reserve(a.size() + b.size());
    out.counts.reserve(a.size() + b.size());
    std::size_t i = 0, j = 0;
    while (i < a.size() || j < b.size()) {
        if (j == b.size() || (i < a.size() && a.colors[i] < b.colors[j])) {
            out.colors.push_back(a.colors[i]);
            out.counts.push_back(a.counts[i++]);
        } else if (i == a.size() || b.colors[j] < a.colors[i]) {
            out.colors.push_back(b.colors[j]);
            out.counts.push_back(b.counts[j++]);
        } else {
            out.colors.push_back(a.colors[i]);
            out.counts.push_back(a.counts[i++] + b.counts[j++]);
        }
    }
    return out;
}

}  // namespace quantcli
