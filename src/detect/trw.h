// Threshold Random Walk (Jung, Paxson, Berger, Balakrishnan, "Fast Portscan Detection Using
// Sequential Hypothesis Testing", IEEE S&P 2004).
//
// For one remote source, each first-contact attempt has an outcome Y: success (the local side
// accepted: SYN-ACK, a UDP answer, an echo reply) or failure (RST, ICMP unreachable, silence).
//   H0 (benign):  P(success) = theta0      H1 (scanner): P(success) = theta1,  theta1 < theta0
// The walk multiplies a likelihood ratio L = P(Y1..Yn | H1) / P(Y1..Yn | H0) by
//   theta1 / theta0               on a success  (0.25 with the paper's defaults)
//   (1 - theta1) / (1 - theta0)   on a failure  (4    with the paper's defaults)
// and decides with Wald's thresholds from the target detection (PD) and false-positive (PF) rates:
//   eta1 = PD / PF                      L >= eta1  ->  scanner   (99 with PD = 0.99, PF = 0.01)
//   eta0 = (1 - PD) / (1 - PF)          L <= eta0  ->  benign    (0.0101)
// With the defaults a fresh source is declared a scanner at its 4th consecutive failure
// (4^4 = 256 >= 99; 4^3 = 64 is not) and benign at its 4th consecutive success.
//
// Online use (our choice, as in Bro's TRW): when the walk reaches "benign" it restarts at L = 1, so
// a host that behaved for a while and then starts scanning is still caught; after "scanner" it
// keeps walking so the score keeps growing with the evidence. The walk is kept in log space and
// clamped, so a 65,535-port scan cannot overflow it.
#pragma once

#include <cstdint>

namespace gh::detect {

struct TrwParams {
  double theta0 = 0.8;  // P(success | benign)
  double theta1 = 0.2;  // P(success | scanner)
  double p_detect = 0.99;
  double p_false = 0.01;
  // Empty when valid; otherwise names the bad parameter.
  const char* validate() const;
};

enum class TrwVerdict : uint8_t { Pending, Scanner, Benign };

class TrwModel {
 public:
  // threshold_scale multiplies log(eta1): 10 asks ten times the evidence (sources inside the
  // protected networks, whose neighbours' failures are common).
  explicit TrwModel(const TrwParams& p, double threshold_scale = 1.0);
  double log_success() const { return log_success_; }
  double log_failure() const { return log_failure_; }
  double log_eta0() const { return log_eta0_; }
  double log_eta1() const { return log_eta1_; }

 private:
  double log_success_, log_failure_, log_eta0_, log_eta1_;
};

// The per-source walk: 8 bytes of state, the model shared by all sources.
class TrwWalk {
 public:
  // Feeds one outcome; returns Scanner the first time (and only the first time) the upper
  // threshold is crossed, Benign when the lower one is (and then restarts), Pending otherwise.
  TrwVerdict observe(const TrwModel& m, bool success);
  double log_ratio() const { return log_lr_; }
  // The likelihood ratio, clamped to [1e-300, 1e300].
  double ratio() const;
  bool flagged() const { return flagged_; }

 private:
  float log_lr_ = 0;
  bool flagged_ = false;
};

}  // namespace gh::detect
