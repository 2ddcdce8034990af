// The OpenAPI page: Swagger UI, from files this server serves.
"use strict";
window.addEventListener("load", () => {
  const box = document.getElementById("swagger-ui");
  window.SwaggerUIBundle({ url: box.dataset.openapiUrl, dom_id: "#swagger-ui", deepLinking: true });
});
