// The states the failure detector reports about one peer link. heartbeat/
// knows nothing of connections: it tells its listener which state the link is
// in, and mirror/ acts on it (closing or re-establishing connections).
//
//            heartbeat silent > timeout
//   connected ─────────────────────────► interrupted
//       ▲                                   │ heartbeat heard
//       │ no gap for the probation interval ▼
//       └───────────────────────────────  probation ──(gap)──► interrupted
#pragma once

namespace heartbeat {

enum class LinkState { connected, interrupted, probation };

inline const char* to_string(LinkState s) {
  switch (s) {
    case LinkState::connected: return "connected";
    case LinkState::interrupted: return "interrupted";
    case LinkState::probation: return "probation";
  }
  return "unknown";
}

}  // namespace heartbeat
