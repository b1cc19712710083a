// SVG figures of a rank sweep: nDCG@100 against rank, histograms of item cosine
// medians.
#ifndef EDLAE_EVALUATION_SWEEP_PLOTS_H_
#define EDLAE_EVALUATION_SWEEP_PLOTS_H_

#include <string>

#include "evaluation/sweep.h"

namespace edlae {

// Fig. 1 (left): validation nDCG@100 against k on a log axis, one polyline
// per method (in method order), full-rank points as dashed lines, a legend.
std::string NdcgRankSvg(const SweepResult& result);
// Fig. 1 (centre/right): histogram over items of the cosine medians of U
// (`of_v` false) or V, one step polyline per model.
std::string CosineHistogramSvg(const SweepResult& result, bool of_v);

}  // namespace edlae

#endif  // EDLAE_EVALUATION_SWEEP_PLOTS_H_
