// The Python module quantcli._core: one register function per area. Each binding
// converts and checks its arguments while holding the GIL (bind_common.hpp says which
// checks live here), then releases it for the C++ work. No algorithm lives here.
#include "bind_common.hpp"

PYBIND11_MODULE(_core, m) {
    m.doc() = "C++ core of quantcli: histogram, k-means palette, remap, PNG encoder and choose-k scores.";
    namespace bind = quantcli::bind;
    bind::register_histogram(m);
    bind::register_palette(m);
    bind::register_quantize(m);
    bind::register_png(m);
    bind::register_choose_k(m);
}
