export default {
 "en": {
  "shared.impersonation.signed_in_as": "You are signed in as {who}",
  "shared.impersonation.by": "by {name} ({reason})",
  "shared.impersonation.ends": "ends at {time}",
  "shared.impersonation.end": "End now"
 },
 "pt-BR": {
  "shared.impersonation.signed_in_as": "Você entrou como {who}",
  "shared.impersonation.by": "por {name} ({reason})",
  "shared.impersonation.ends": "termina às {time}",
  "shared.impersonation.end": "Encerrar agora"
 },
 "de": {
  "shared.impersonation.signed_in_as": "Sie sind angemeldet als {who}",
  "shared.impersonation.by": "durch {name} ({reason})",
  "shared.impersonation.ends": "endet um {time}",
  "shared.impersonation.end": "Jetzt beenden"
 },
 "es": {
  "shared.impersonation.signed_in_as": "Has iniciado sesión como {who}",
  "shared.impersonation.by": "por {name} ({reason})",
  "shared.impersonation.ends": "termina a las {time}",
  "shared.impersonation.end": "Terminar ahora"
 },
 "ru": {
  "shared.impersonation.signed_in_as": "Вы вошли как {who}",
  "shared.impersonation.by": "— {name} ({reason})",
  "shared.impersonation.ends": "закончится в {time}",
  "shared.impersonation.end": "Завершить сейчас"
 }
};
