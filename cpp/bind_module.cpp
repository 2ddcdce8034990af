// The Python module quantcli._core: one register function per area. Each binding
// converts and checks its arguments while holding the GIL (bind_common.hpp says which
// checks live here), then releases it for the C++ work. No algorithm lives here.
#include <exception>
#include <new>

#include "bind_common.hpp"

PYBIND11_MODULE(_core, m) {
    m.doc() = "C++ core of quantcli: histogram, k-means palette, remap, PNG encoder and choose-k scores.";
    namespace bind = quantcli::bind;
    namespace py = pybind11;
    bind::register_histogram(m);
    bind::register_palette(m);
    bind::register_quantize(m);
    bind::register_png(m);
    bind::register_choose_k(m);
    // pybind11 would say "std::bad_alloc".
    py::register_exception_translator([](std::exception_ptr error) {
        try {
            if (error) std::rethrow_exception(error);
        } catch (const std::bad_alloc&) {
            PyErr_SetString(PyExc_MemoryError, "out of memory");
        }
    });
}
