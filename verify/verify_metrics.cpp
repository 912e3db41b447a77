#include "verify/verify_metrics.hpp"

#include "core/clock.hpp"
#include "core/error.hpp"
#include "core/metrics.hpp"

namespace kdr::verify {

void write_verify_metrics(const core::Context& ctx, const VerifyReport& r) {
  core::MetricsText m;
  m.gauge("kdr_verify_last_run_timestamp_seconds", "When kdr verify last ran.", static_cast<double>(core::now_epoch()));
  m.gauge("kdr_verify_generation_timestamp_seconds", "Start time of the generation last verified.",
          static_cast<double>(r.generation_time));
  m.gauge("kdr_verify_duration_seconds", "Duration of the last kdr verify.", r.duration_s);
  for (auto sev : {Severity::error, Severity::warning, Severity::info})
    m.gauge("kdr_verify_findings", "Findings of the last kdr verify, by severity.",
            static_cast<double>(r.findings.count(sev)), fmt::format("severity=\"{}\"", to_string(sev)));
  m.gauge("kdr_verify_etcd_snapshot_ok", "1 when the verified generation has a sound etcd snapshot.",
          r.etcd.snapshot_ok ? 1 : 0);
  if (r.encryption)
    for (const auto& [key, f] : r.encryption->keys) {
      const auto k = fmt::format("key=\"{}\"", key);
      m.gauge("kdr_verify_encrypted_values", "Values encrypted at rest in the verified snapshot, by key and outcome.",
              static_cast<double>(f.decrypt), k + ",outcome=\"decrypts\"");
      m.gauge("kdr_verify_encrypted_values", "Values encrypted at rest in the verified snapshot, by key and outcome.",
              static_cast<double>(f.fail), k + ",outcome=\"fails\"");
      if (f.kms)
        m.gauge("kdr_verify_encrypted_values", "Values encrypted at rest in the verified snapshot, by key and outcome.",
                static_cast<double>(f.values), k + ",outcome=\"kms\"");
    }
  if (r.certificates.earliest)
    m.gauge("kdr_certificate_earliest_expiry_timestamp_seconds",
            "When the first certificate (backup or node) expires.", static_cast<double>(r.certificates.earliest->not_after));
  try {
    core::write_metrics(ctx, "kdr_verify.prom", m);
  } catch (const core::Error& e) {
    ctx.out.warn("cannot write metrics: {}", e.what());
  }
}

}  // namespace kdr::verify
