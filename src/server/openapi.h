// The OpenAPI 3.1 document (docs/openapi.yaml), converted to JSON at build time.
#ifndef MERCATOR_SERVER_OPENAPI_H_
#define MERCATOR_SERVER_OPENAPI_H_

#include <string_view>

namespace mercator {
std::string_view OpenApiJson();
}  // namespace mercator

#endif  // MERCATOR_SERVER_OPENAPI_H_
