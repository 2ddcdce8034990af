// Colour representation shared by every stage of the pipeline.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace quantcli {

// A colour packed as r | g << 8 | b << 16 | a << 24. Sorting packed keys gives the
// canonical order of a histogram, so two histograms of the same pixels are identical.
using ColorKey = std::uint32_t;

// A colour as four bytes r, g, b, a: a palette entry as written.
using Rgba8 = std::array<std::uint8_t, 4>;

// Every fully transparent pixel is stored as this one key: its RGB is invisible.
inline constexpr ColorKey kTransparentKey = 0;

inline constexpr ColorKey pack_rgba(std::uint8_t r, std::uint8_t g, std::uint8_t b, std::uint8_t a) {
    if (a == 0) return kTransparentKey;
    return static_cast<ColorKey>(r) | (static_cast<ColorKey>(g) << 8) | (static_cast<ColorKey>(b) << 16) |
           (static_cast<ColorKey>(a) << 24);
}

inline constexpr std::uint8_t key_channel(ColorKey key, int channel) {
    return static_cast<std::uint8_t>(key >> (8 * channel));
}

inline Rgba8 key_color(ColorKey key) {
    return {key_channel(key, 0), key_channel(key, 1), key_channel(key, 2), key_channel(key, 3)};
}

// Reads pixel `i` of an interleaved RGB (channels == 3) or RGBA (channels == 4) buffer.
inline ColorKey pixel_key(const std::uint8_t* pixels, std::size_t i, int channels) {
    const std::uint8_t* p = pixels + i * static_cast<std::size_t>(channels);
    return pack_rgba(p[0], p[1], p[2], channels == 4 ? p[3] : 255);
}

// A point in RGBA space, as floats in 0..255: a colour, a mean of colours or a centre.
struct Point4 {
    float c[4];
};

inline Point4 point_of(ColorKey key) {
    return {{static_cast<float>(key_channel(key, 0)), static_cast<float>(key_channel(key, 1)),
             static_cast<float>(key_channel(key, 2)), static_cast<float>(key_channel(key, 3))}};
}

inline float squared_distance(const Point4& a, const Point4& b) {
    float d = 0.0f;
    for (int ch = 0; ch < 4; ++ch) {
        const float t = a.c[ch] - b.c[ch];
        d += t * t;
    }
    return d;
}

}  // namespace quantcli
