#include "output/sink.h"

#include "service/services.h"

namespace gh {

ServiceNameFn default_service_names() {
  return [](Protocol proto, uint16_t port) { return ServiceTable::instance().name(proto, port); };
}

}  // namespace gh
