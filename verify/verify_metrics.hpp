// The metrics a verify run leaves for Prometheus (kdr_verify.prom).
#pragma once

#include "verify/verify.hpp"

namespace kdr::verify {

void write_verify_metrics(const core::Context& ctx, const VerifyReport& report);

}  // namespace kdr::verify
