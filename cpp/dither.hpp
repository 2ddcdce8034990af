// Stage 4b: remapping with error diffusion where it helps.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "color.hpp"

namespace quantcli {

// Floyd-Steinberg error diffusion in the perceptual space, made to pay for its bytes:
// - the error a pixel receives is scaled by its flatness (flatness_map) times `level`
//   (0..1), so gradients are dithered and edges, noise and texture, which hide banding,
//   are not; below 64 entries, whose wider steps only stronger texture hides, the
//   flatness counts for more;
// - the target (pixel plus error) stays within a fixed distance of the pixel per channel,
//   so no speckle or colour bleeding can build up;
// - a large error is damped before it is passed on, and a tiny one is dropped, and a pixel
//   keeps the previous pixel's entry when it is nearly as close, so that runs stay runs
//   for deflate;
// - fully transparent pixels take their entry and pass nothing on.
// `color_points[c]` is histogram colour c in the space, `pixel_color` the colour of every
// pixel, `color_label[c]` an entry near colour c (the start of each search), `palette` the
// entries in the space. The search is exact: the label is the entry nearest the target,
// or the previous pixel's within the run margin.
void remap_dithered(const std::vector<Point4>& color_points, const std::vector<std::uint32_t>& pixel_color,
                    const std::vector<std::int32_t>& color_label, const std::vector<std::uint8_t>& flatness,
                    std::size_t width, std::size_t height, const std::vector<Point4>& palette, float level,
                    std::uint8_t* labels);

}  // namespace quantcli
