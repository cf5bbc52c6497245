// Names static variables for the race check's reports: looks an address up in the symbol
// table of the running executable (its .symtab, read from /proc/self/exe).
#pragma once
#include <string>

namespace simt {

// "simt_test::kernel<false>(int*)::s, byte 12" or "" when no symbol covers the address.
std::string describe_static_address(const void* address);

}  // namespace simt
