export default {
 "en": {
  "impersonation.signed_in_as": "You are signed in as {who}",
  "impersonation.by": "by {name} ({reason})",
  "impersonation.ends": "ends at {time}",
  "impersonation.end": "End now"
 },
 "pt-BR": {
  "impersonation.signed_in_as": "Você entrou como {who}",
  "impersonation.by": "por {name} ({reason})",
  "impersonation.ends": "termina às {time}",
  "impersonation.end": "Encerrar agora"
 },
 "de": {
  "impersonation.signed_in_as": "Sie sind angemeldet als {who}",
  "impersonation.by": "durch {name} ({reason})",
  "impersonation.ends": "endet um {time}",
  "impersonation.end": "Jetzt beenden"
 },
 "es": {
  "impersonation.signed_in_as": "Has iniciado sesión como {who}",
  "impersonation.by": "por {name} ({reason})",
  "impersonation.ends": "termina a las {time}",
  "impersonation.end": "Terminar ahora"
 },
 "ru": {
  "impersonation.signed_in_as": "Вы вошли как {who}",
  "impersonation.by": "— {name} ({reason})",
  "impersonation.ends": "закончится в {time}",
  "impersonation.end": "Завершить сейчас"
 }
};
