// Sample applications for dev mode, the demo and load: realistic kinds, taxpayers and bodies.
#ifndef TAXHUB_TOOLS_HALL_SAMPLES_H_
#define TAXHUB_TOOLS_HALL_SAMPLES_H_

#include <cstdint>
#include <string>

#include "gen-cpp/taxhub_types.h"

namespace taxhub::hall {

// The n-th sample application: cycles through the hall's services (VAT returns, registration,
// invoice authentication, refunds, payments, complaints …) across a few taxpayers with valid
// unified social credit codes and their tax offices.
wire::SubmitRequest SampleRequest(uint64_t n, const std::string& kind_override = "");

}  // namespace taxhub::hall

#endif  // TAXHUB_TOOLS_HALL_SAMPLES_H_
