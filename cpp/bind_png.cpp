// Binding of stage 5: the palette PNG encoder.
#include <algorithm>
#include <string>

#include "bind_common.hpp"

namespace quantcli::bind {

void register_png(py::module_& m) {
    m.def(
        "encode_png",
        [](const py::array& labels, const py::array& palette, int level) {
            require(labels, "labels", py::dtype::of<std::uint8_t>(), 2, {}, "(h, w)");
            if (labels.shape(0) == 0 || labels.shape(1) == 0)
                throw py::value_error("labels must not be empty");
            const std::vector<Rgba8> entries = palette_from_array(palette);
            const auto* data = static_cast<const std::uint8_t*>(labels.data());
            const auto h = labels.shape(0), w = labels.shape(1);
            const std::uint8_t top = *std::max_element(data, data + h * w);
            if (top >= entries.size()) {
                throw py::value_error("labels must be below the palette size " +
                                      std::to_string(entries.size()) + ", found " + std::to_string(top));
            }
            std::vector<std::uint8_t> png;
            {
                py::gil_scoped_release release;
                png = encode_png(data, w, h, entries, PngOptions{level, true, 0});
            }
            return py::bytes(reinterpret_cast<const char*>(png.data()), png.size());
        },
        py::arg("labels"), py::arg("palette"), py::arg("level"),
        "Encode (h, w) uint8 labels and an (n, 3|4) uint8 palette as a palette PNG at zlib level 0 to 9.");
}

}  // namespace quantcli::bind
