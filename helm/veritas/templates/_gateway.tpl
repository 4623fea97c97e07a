{{/* The gateway's authentication: VERITAS_AUTH, the key file, the JWKS; and its Redis. */}}
{{- define "veritas.authMethods" -}}
{{- $methods := list -}}
{{- range (splitList "," .Values.auth.methods) }}{{ $methods = append $methods (trim .) }}{{ end -}}
{{- toJson $methods -}}
{{- end -}}

{{- define "veritas.apiKeysSecret" -}}
{{- if .Values.auth.apiKeys.file -}}
{{- printf "%s-api-keys" (include "veritas.fullname" .) -}}
{{- else -}}
{{- .Values.auth.apiKeys.existingSecret -}}
{{- end -}}
{{- end -}}

{{- define "veritas.jwksConfigMap" -}}
{{- .Values.auth.jwt.jwksConfigMap | default (printf "%s-jwks" (include "veritas.fullname" .)) -}}
{{- end -}}

{{/* Fails the render on a configuration the gateway would refuse at start. */}}
{{- define "veritas.checkAuth" -}}
{{- $methods := include "veritas.authMethods" . | fromJsonArray -}}
{{- $a := .Values.auth -}}
{{- if and (has "keys" $methods) (not (or $a.apiKeys.existingSecret $a.apiKeys.file $a.apiKeys.existingClaim)) -}}
{{- fail "auth.methods has keys: set auth.apiKeys.existingSecret, auth.apiKeys.file or auth.apiKeys.existingClaim" -}}
{{- end -}}
{{- if has "jwt" $methods -}}
{{- if not (and $a.jwt.issuer $a.jwt.audience) -}}
{{- fail "auth.methods has jwt: set auth.jwt.issuer and auth.jwt.audience" -}}
{{- end -}}
{{- if not (or $a.jwt.jwksUrl $a.jwt.jwksConfigMap $a.jwt.jwks) -}}
{{- fail "auth.methods has jwt: set auth.jwt.jwksUrl, auth.jwt.jwksConfigMap or auth.jwt.jwks" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "veritas.gatewayEnv" -}}
{{- $methods := include "veritas.authMethods" . | fromJsonArray -}}
{{- $a := .Values.auth -}}
- name: VERITAS_HTTP_PORT
  value: {{ .Values.gateway.httpPort | quote }}
- name: VERITAS_AUTH
  value: {{ join "," $methods | quote }}
{{- if has "keys" $methods }}
- name: VERITAS_API_KEYS_FILE
  value: /var/run/veritas/api-keys/{{ $a.apiKeys.secretKey }}
{{- end }}
{{- if has "jwt" $methods }}
- name: VERITAS_JWT_ISSUER
  value: {{ $a.jwt.issuer | quote }}
- name: VERITAS_JWT_AUDIENCE
  value: {{ $a.jwt.audience | quote }}
- name: VERITAS_JWT_JWKS
  value: {{ $a.jwt.jwksUrl | default "/etc/veritas/jwks/jwks.json" | quote }}
{{- end }}
{{- $redis := include "veritas.redisMode" . }}
{{- if eq $redis "external" }}
- name: VERITAS_REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ $a.redis.existingSecret }}
      key: {{ $a.redis.secretKey }}
{{- else if eq $redis "bundled" }}
- name: VERITAS_REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "veritas.redisName" . }}
      key: redis-url
{{- end }}
{{- end -}}

{{/* Where the gateway replicas share rate limits: "external" (auth.redis.existingSecret),
"bundled" (the chart's own Redis) or "" (each replica counts alone). */}}
{{- define "veritas.redisMode" -}}
{{- if .Values.auth.redis.existingSecret -}}external
{{- else if .Values.auth.redis.bundled.enabled -}}bundled
{{- end -}}
{{- end -}}

{{- define "veritas.redisName" -}}
{{- include "veritas.componentName" (dict "root" . "component" "redis") -}}
{{- end -}}

{{/* The most gateway replicas that may run: the autoscaler's maximum, or replicas. */}}
{{- define "veritas.gatewayMaxReplicas" -}}
{{- $g := .Values.gateway -}}
{{- if $g.autoscaling.enabled -}}{{ $g.autoscaling.maxReplicas }}{{- else -}}{{ $g.replicas }}{{- end -}}
{{- end -}}

{{/* Fails the render when several gateways would each count a tenant's limit alone. */}}
{{- define "veritas.checkRedis" -}}
{{- $max := include "veritas.gatewayMaxReplicas" . | int -}}
{{- if and (gt $max 1) (not (include "veritas.redisMode" .)) -}}
{{- fail (printf "the gateway may run %d replicas, and without a shared Redis each would count rate limits alone (a tenant would get %d times its limit): set auth.redis.existingSecret to a Secret holding your Redis URL, or auth.redis.bundled.enabled=true, or run one gateway (gateway.replicas=1, gateway.autoscaling.enabled=false)" $max $max) -}}
{{- end -}}
{{- end -}}

{{- define "veritas.gatewayVolumeMounts" -}}
{{- $methods := include "veritas.authMethods" . | fromJsonArray -}}
{{- if has "keys" $methods }}
- name: api-keys
  mountPath: /var/run/veritas/api-keys
  readOnly: {{ not .Values.auth.apiKeys.existingClaim }}
{{- end }}
{{- if and (has "jwt" $methods) (not .Values.auth.jwt.jwksUrl) }}
- name: jwks
  mountPath: /etc/veritas/jwks
  readOnly: true
{{- end }}
{{- end -}}

{{- define "veritas.gatewayVolumes" -}}
{{- $methods := include "veritas.authMethods" . | fromJsonArray -}}
{{- if has "keys" $methods }}
- name: api-keys
  {{- if .Values.auth.apiKeys.existingClaim }}
  persistentVolumeClaim:
    claimName: {{ .Values.auth.apiKeys.existingClaim }}
  {{- else }}
  secret:
    secretName: {{ include "veritas.apiKeysSecret" . }}
    defaultMode: 0440
  {{- end }}
{{- end }}
{{- if and (has "jwt" $methods) (not .Values.auth.jwt.jwksUrl) }}
- name: jwks
  configMap:
    name: {{ include "veritas.jwksConfigMap" . }}
{{- end }}
{{- end -}}
