#include "perceptual.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace quantcli {
namespace {

// Cube root of x in [0, 1] to float precision: a bit-level first guess, then Newton steps.
// Faster than std::cbrt, and the same on every platform (no libm involved).
inline float cube_root(float x) {
    if (x <= 0.0f) return 0.0f;
    std::uint32_t bits;
    std::memcpy(&bits, &x, sizeof bits);
    bits = bits / 3 + 709921077u;  // exponent divided by three, about right
    float y;
    std::memcpy(&y, &bits, sizeof y);
    for (int i = 0; i < 3; ++i) y = y - (y * y * y - x) / (3.0f * y * y);
    return y;
}

}  // namespace

PerceptualSpace::PerceptualSpace() {
    for (int v = 0; v < 256; ++v) {
        const double x = v / 255.0;
        linear_[v] = static_cast<float>(x <= 0.04045 ? x / 12.92 : std::pow((x + 0.055) / 1.055, 2.4));
    }
}

const PerceptualSpace& PerceptualSpace::get() {
    static const PerceptualSpace space;
    return space;
}

// The matrices are Oklab's published ones (linear sRGB -> LMS, cube root, -> Lab).
Point4 PerceptualSpace::point(ColorKey key) const {
    const float r = linear_[key_channel(key, 0)], g = linear_[key_channel(key, 1)],
                b = linear_[key_channel(key, 2)];
    const float l = cube_root(0.4122214708f * r + 0.5363325363f * g + 0.0514459929f * b);
    const float m = cube_root(0.2119034982f * r + 0.6806995451f * g + 0.1073969566f * b);
    const float s = cube_root(0.0883024619f * r + 0.2817188376f * g + 0.6299787005f * b);
    const float lightness = 0.2104542553f * l + 0.7936177850f * m - 0.0040720468f * s;
    const float green_red = 1.9779984951f * l - 2.4285922050f * m + 0.4505937099f * s;
    const float blue_yellow = 0.0259040371f * l + 0.7827717662f * m - 0.8086757660f * s;
    const float a = static_cast<float>(key_channel(key, 3));  // = 255 a'
    return {{a * lightness, a * (green_red + 0.5f), a * (blue_yellow + 0.5f), a}};
}

Rgba8 PerceptualSpace::color(const Point4& p) const {
    const long alpha = std::clamp(std::lround(p.c[3]), 0L, 255L);
    if (alpha == 0) return {0, 0, 0, 0};
    const float a = static_cast<float>(alpha);
    const float lightness = p.c[0] / a, green_red = p.c[1] / a - 0.5f, blue_yellow = p.c[2] / a - 0.5f;
    float l = lightness + 0.3963377774f * green_red + 0.2158037573f * blue_yellow;
    float m = lightness - 0.1055613458f * green_red - 0.0638541728f * blue_yellow;
    float s = lightness - 0.0894841775f * green_red - 1.2914855480f * blue_yellow;
    l = l * l * l, m = m * m * m, s = s * s * s;
    const float linear[3] = {4.0767416621f * l - 3.3077115913f * m + 0.2309699292f * s,
                             -1.2684380046f * l + 2.6097574011f * m - 0.3413193965f * s,
                             -0.0041960863f * l - 0.7034186147f * m + 1.7076147010f * s};
    Rgba8 out{0, 0, 0, static_cast<std::uint8_t>(alpha)};
    for (int ch = 0; ch < 3; ++ch) {
        // The table increases: the nearest entry is next to the first one not below.
        const int above = static_cast<int>(std::lower_bound(linear_, linear_ + 256, linear[ch]) - linear_);
        int v = std::min(above, 255);
        if (above > 0 && (above == 256 || linear[ch] - linear_[above - 1] <= linear_[above] - linear[ch])) {
            v = above - 1;
        }
        out[ch] = static_cast<std::uint8_t>(v);
    }
    return out;
}

WeightedPoints perceptual_points(const Histogram& hist) {
    const PerceptualSpace& space = PerceptualSpace::get();
    WeightedPoints out;
    out.points.reserve(hist.size());
    out.weights.reserve(hist.size());
    const bool weighted = hist.weights.size() == hist.size();
    for (std::size_t i = 0; i < hist.size(); ++i) {
        out.points.push_back(space.point(hist.colors[i]));
        out.weights.push_back(static_cast<double>(weighted ? hist.weights[i] : hist.counts[i]));
    }
    return out;
}

}  // namespace quantcli
