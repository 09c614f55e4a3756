// CFX messages of the treasury-tax-bank network (财税库银横向联网, TIPS): GBK XML
//   <?xml version="1.0" encoding="GBK"?><CFX><HEAD><VER>1.0</VER><SRC>…</SRC><DES>…</DES>
//   <APP>TIPS</APP><MsgNo>1001</MsgNo><MsgID>…</MsgID><MsgRef>…</MsgRef><WorkDate>yyyyMMdd</WorkDate>
//   <Reserve/></HEAD><MSG>…</MSG></CFX><!--SIGN:base64-->
// followed by the sender's detached signature (SM2 in newer deployments) over every byte up to
// and including </CFX>, as an XML comment. Messages used here: 1001 real-time deduction → 2001;
// 1021 reversal → 2021; 1024 status query → 2024 (the query's number is *inferred*); repeated
// groups such as 3111's per-transaction detail (see CfxMessage::fields).
#ifndef TAXHUB_ADAPTERS_TIPS_CFX_H_
#define TAXHUB_ADAPTERS_TIPS_CFX_H_

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "hub/base/json_map.h"
#include "hub/base/status.h"
#include "hub/security/crypto.h"

namespace taxhub::tips {

inline constexpr std::string_view kTipsNode = "100000000000";

struct CfxMessage {
  std::string src;       // 12 digits
  std::string des;       // 12 digits
  std::string msg_no;    // 4 digits
  std::string msg_id;    // 20 digits
  std::string msg_ref;   // 20 digits
  std::string work_date; // yyyyMMdd
  // The MSG part as (element path, text) pairs in document order, e.g.
  // {"RealHead1001/TraNo", "00012345"}; paths below MSG. An element that repeats under its
  // parent carries its index: {"Detail3111[0]/TraNo", …}, {"Detail3111[1]/TraNo", …} — that
  // is how repeated groups are written and how they are read back.
  std::vector<std::pair<std::string, std::string>> fields;

  // The first field with this path, or "".
  std::string Get(std::string_view path) const;
  // The repeated group `name` (a top-level element below MSG) as one map per occurrence, keyed
  // by the path below it; a group that occurs once gives one map.
  std::vector<StringMap> Groups(std::string_view name) const;
};

// GBK bytes of the message with `key`'s signature appended.
Result<std::string> EncodeCfx(const CfxMessage& message, const security::PrivateKey& key);
// Parses and checks a signed message: the signature must verify with `sender`, the XML must be
// well formed, and HEAD must be complete. No external entities are ever loaded.
Result<CfxMessage> DecodeCfx(std::string_view bytes, const security::Certificate& sender);

// -?\d{1,15}\.\d{2}
bool IsCfxAmount(std::string_view amount);

}  // namespace taxhub::tips

#endif  // TAXHUB_ADAPTERS_TIPS_CFX_H_
